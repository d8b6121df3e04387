//! `cargo xtask bench …`: benchmark programs that print figures (in progress).

pub fn run(args: &[String]) -> Result<(), String> {
    Err(format!("unknown benchmark {args:?}"))
}
