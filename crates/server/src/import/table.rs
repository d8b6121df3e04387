//! Reading an import file as a stream of rows: the header names the columns (any order,
//! case-insensitive), every row is read with the `csv` crate, one at a time, and its cells are
//! parsed by [`Row`] — every bad cell becomes a [`LineError`] with the line, the column and a
//! Russian reason, and the row is dropped; reading goes on to the end of the file so that the
//! operator sees every bad row at once (the first [`MAX_ERRORS`] are kept).
//!
//! Cells are trimmed; an empty cell is "not given". Numbers take a decimal comma or point and
//! spaces between digit groups (`1 234,56`); dates are `ГГГГ-ММ-ДД` or `ДД.ММ.ГГГГ`; periods
//! `ГГГГ-ММ` or `ММ.ГГГГ`; yes/no is `да`/`нет` (also `yes`/`no`, `true`/`false`, `1`/`0`);
//! lists inside a cell are separated by `|`.

use std::collections::HashMap;
use std::io::Read;

use billing_core::period::Period;
use rust_decimal::Decimal;
use time::{Date, Month};

use super::Progress;

/// The field delimiter of every import file.
pub const DELIMITER: u8 = b';';

/// The most bad rows reported for one file.
pub const MAX_ERRORS: usize = 100;

/// A bad row (or a bad header).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineError {
    /// The line of the file; the header is line 1.
    pub line: u64,
    /// The column at fault, when there is one.
    pub column: Option<String>,
    /// What is wrong, in Russian.
    pub reason: String,
}

/// The errors of a file: the first [`MAX_ERRORS`] and how many there were.
#[derive(Debug, Default)]
pub struct Errors {
    list: Vec<LineError>,
    total: u64,
}

impl Errors {
    /// Records an error.
    pub fn push(&mut self, line: u64, column: Option<&str>, reason: impl Into<String>) {
        self.total += 1;
        if self.list.len() < MAX_ERRORS {
            self.list.push(LineError {
                line,
                column: column.map(str::to_owned),
                reason: reason.into(),
            });
        }
    }

    /// No error so far.
    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// As many errors are kept as will be reported: checks that cost a database query may
    /// stop.
    pub fn is_full(&self) -> bool {
        self.list.len() >= MAX_ERRORS
    }

    /// The kept errors in line order, and how many there were.
    pub fn into_sorted(mut self) -> (Vec<LineError>, u64) {
        self.list.sort_by_key(|e| e.line);
        (self.list, self.total)
    }
}

/// A value read from line `line`.
#[derive(Clone, Debug)]
pub struct Lined<T> {
    /// The line of the file.
    pub line: u64,
    /// The value.
    pub item: T,
}

/// The columns of a format.
pub struct Columns {
    /// Columns the header must name.
    pub required: &'static [&'static str],
    /// Columns the header may name.
    pub optional: &'static [&'static str],
}

impl Columns {
    fn all(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.required.iter().chain(self.optional).copied()
    }
}

/// Where each known column is in the file.
struct Table {
    index: HashMap<&'static str, usize>,
    width: usize,
}

impl Table {
    /// Reads the header: unknown, repeated and missing required columns are errors.
    fn new(header: &csv::ByteRecord, columns: &Columns, errors: &mut Errors) -> Option<Table> {
        let mut index = HashMap::new();
        for (i, raw) in header.iter().enumerate() {
            // Spreadsheets save "CSV UTF-8" with a byte order mark.
            let raw = if i == 0 {
                raw.strip_prefix(b"\xef\xbb\xbf").unwrap_or(raw)
            } else {
                raw
            };
            let Ok(name) = std::str::from_utf8(raw) else {
                errors.push(1, None, "заголовок не в кодировке UTF-8");
                continue;
            };
            let name = name.trim().to_lowercase();
            match columns.all().find(|c| *c == name) {
                Some(known) => {
                    if index.insert(known, i).is_some() {
                        errors.push(1, Some(known), "столбец указан дважды");
                    }
                }
                None => errors.push(
                    1,
                    Some(&name),
                    format!(
                        "неизвестный столбец; допустимы: {}",
                        columns.all().collect::<Vec<_>>().join(", ")
                    ),
                ),
            }
        }
        for required in columns.required {
            if !index.contains_key(required) {
                errors.push(1, Some(required), "нет обязательного столбца");
            }
        }
        errors.is_empty().then_some(Table {
            index,
            width: header.len(),
        })
    }
}

/// Reads every row of `input` with `parse`, which reads the row's cells through [`Row`] and
/// returns the row's value unless a cell was bad. Bad rows are left out (their errors are in
/// `errors`).
pub fn read<T>(
    input: impl Read,
    columns: &Columns,
    progress: &dyn Progress,
    errors: &mut Errors,
    mut parse: impl FnMut(&mut Row<'_>) -> Option<T>,
) -> Vec<Lined<T>> {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(DELIMITER)
        .has_headers(false)
        .flexible(true)
        .from_reader(input);
    let mut record = csv::ByteRecord::new();
    let table = match reader.read_byte_record(&mut record) {
        Ok(true) => Table::new(&record, columns, errors),
        Ok(false) => {
            errors.push(1, None, "файл пуст: первой строкой должен быть заголовок");
            None
        }
        Err(e) => {
            errors.push(1, None, csv_reason(&e));
            None
        }
    };
    let Some(table) = table else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut rows = 0;
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let line = e.position().map_or(0, csv::Position::line);
                errors.push(line, None, csv_reason(&e));
                if matches!(e.kind(), csv::ErrorKind::Io(_)) {
                    break;
                }
                continue;
            }
        }
        rows += 1;
        let (line, byte) = record.position().map_or((0, 0), |p| (p.line(), p.byte()));
        if rows % 1024 == 0 {
            progress.reading(byte, rows);
        }
        if record.len() != table.width {
            errors.push(
                line,
                None,
                format!(
                    "в строке {} полей, а в заголовке {} (разделитель — «;»)",
                    record.len(),
                    table.width
                ),
            );
            continue;
        }
        let mut row = Row {
            line,
            record: &record,
            table: &table,
            errors,
            bad: false,
        };
        let value = parse(&mut row);
        if let (Some(item), false) = (value, row.bad) {
            out.push(Lined { line, item });
        }
    }
    progress.reading(reader.position().byte(), rows);
    out
}

fn csv_reason(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::Io(io) => format!("файл не прочитан: {io}"),
        _ => "строка не разбирается как CSV (проверьте кавычки)".to_owned(),
    }
}

/// A cell as read.
enum Cell<'a> {
    /// Empty or absent column.
    Empty,
    /// Not UTF-8 (already reported).
    Bad,
    /// The trimmed text.
    Text(&'a str),
}

/// One row being read: its cells, parsed one by one; every bad cell is reported.
pub struct Row<'a> {
    line: u64,
    record: &'a csv::ByteRecord,
    table: &'a Table,
    errors: &'a mut Errors,
    bad: bool,
}

impl<'a> Row<'a> {
    /// The row's line.
    pub fn line(&self) -> u64 {
        self.line
    }

    /// Reports a problem of the row (with `column`, if one column is at fault).
    pub fn fail(&mut self, column: Option<&str>, reason: impl Into<String>) {
        self.bad = true;
        self.errors.push(self.line, column, reason);
    }

    fn cell(&mut self, column: &'static str) -> Cell<'a> {
        let Some(raw) = self
            .table
            .index
            .get(column)
            .and_then(|&i| self.record.get(i))
        else {
            return Cell::Empty;
        };
        match std::str::from_utf8(raw) {
            Ok(text) if text.trim().is_empty() => Cell::Empty,
            Ok(text) => Cell::Text(text.trim()),
            Err(_) => {
                self.fail(
                    Some(column),
                    "текст не в кодировке UTF-8 (сохраните файл как «CSV UTF-8»)",
                );
                Cell::Bad
            }
        }
    }

    fn parsed<T>(
        &mut self,
        column: &'static str,
        text: &str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        match parse(text) {
            Ok(v) => Some(v),
            Err(reason) => {
                self.fail(Some(column), format!("«{}»: {reason}", shorten(text)));
                None
            }
        }
    }

    /// The value of a column that must be filled.
    pub fn required<T>(
        &mut self,
        column: &'static str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        match self.cell(column) {
            Cell::Text(text) => self.parsed(column, text, parse),
            Cell::Empty => {
                self.fail(Some(column), "не заполнено");
                None
            }
            Cell::Bad => None,
        }
    }

    /// The value of a column that may be empty: `Some(None)` when it is; `None` when it is bad.
    pub fn optional<T>(
        &mut self,
        column: &'static str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<Option<T>> {
        match self.cell(column) {
            Cell::Text(text) => self.parsed(column, text, parse).map(Some),
            Cell::Empty => Some(None),
            Cell::Bad => None,
        }
    }

    /// The value of a column that may be empty, `default` when it is.
    pub fn or<T>(
        &mut self,
        column: &'static str,
        default: T,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        self.optional(column, parse).map(|v| v.unwrap_or(default))
    }
}

/// At most 40 characters of a cell, for an error message.
fn shorten(text: &str) -> String {
    match text.char_indices().nth(40) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_owned(),
    }
}

/// A record id: a whole number from 1 (ids are stored as signed 64-bit numbers).
pub fn id(text: &str) -> Result<u64, String> {
    text.parse::<u64>()
        .ok()
        .filter(|v| (1..=i64::MAX.unsigned_abs()).contains(v))
        .ok_or_else(|| "ожидается номер записи — целое число от 1".to_owned())
}

/// A decimal number: a comma or a point before the fraction, spaces between digit groups.
pub fn decimal(text: &str) -> Result<Decimal, String> {
    let plain: String = text
        .chars()
        .filter(|c| !matches!(c, ' ' | '\u{a0}' | '\u{202f}'))
        .map(|c| if c == ',' { '.' } else { c })
        .collect();
    Decimal::from_str_exact(&plain).map_err(|_| "ожидается число, например 12,5".to_owned())
}

/// A number ≥ 0.
pub fn non_negative(text: &str) -> Result<Decimal, String> {
    decimal(text).and_then(|d| {
        if d.is_sign_negative() && !d.is_zero() {
            Err("число не может быть отрицательным".to_owned())
        } else {
            Ok(d)
        }
    })
}

/// A number > 0.
pub fn positive(text: &str) -> Result<Decimal, String> {
    decimal(text).and_then(|d| {
        if d > Decimal::ZERO {
            Ok(d)
        } else {
            Err("число должно быть больше нуля".to_owned())
        }
    })
}

/// A whole number from `min` to `max`.
pub fn whole(min: u32, max: u32) -> impl Fn(&str) -> Result<u32, String> {
    move |text| {
        text.parse::<u32>()
            .ok()
            .filter(|v| (min..=max).contains(v))
            .ok_or_else(|| format!("ожидается целое число от {min} до {max}"))
    }
}

/// Yes or no.
pub fn yes_no(text: &str) -> Result<bool, String> {
    match text.to_lowercase().as_str() {
        "да" | "yes" | "true" | "1" | "д" | "y" => Ok(true),
        "нет" | "no" | "false" | "0" | "н" | "n" => Ok(false),
        _ => Err("ожидается «да» или «нет»".to_owned()),
    }
}

/// A day: `2026-10-20` or `20.10.2026`.
pub fn date(text: &str) -> Result<Date, String> {
    let bad = || "ожидается дата ГГГГ-ММ-ДД или ДД.ММ.ГГГГ".to_owned();
    let parts: Vec<&str> = if text.contains('.') {
        let mut p: Vec<&str> = text.split('.').collect();
        p.reverse();
        p
    } else {
        text.split('-').collect()
    };
    let [y, m, d] = parts[..] else {
        return Err(bad());
    };
    if y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return Err(bad());
    }
    let year: i32 = y.parse().map_err(|_| bad())?;
    let month: u8 = m.parse().map_err(|_| bad())?;
    let day: u8 = d.parse().map_err(|_| bad())?;
    let month = Month::try_from(month).map_err(|_| bad())?;
    Date::from_calendar_date(year, month, day).map_err(|_| "такого дня нет в календаре".to_owned())
}

/// A billing period: `2026-10` or `10.2026`.
pub fn period(text: &str) -> Result<Period, String> {
    let normal = match text.split_once('.') {
        Some((m, y)) => format!("{y}-{m}"),
        None => text.to_owned(),
    };
    normal
        .parse::<Period>()
        .map_err(|_| "ожидается период ГГГГ-ММ или ММ.ГГГГ".to_owned())
}

/// Text without control characters, at most `max` characters.
pub fn text(max: usize) -> impl Fn(&str) -> Result<String, String> {
    move |text| {
        if text.chars().any(char::is_control) {
            Err("текст содержит управляющие символы".to_owned())
        } else if text.chars().count() > max {
            Err(format!("длиннее {max} символов"))
        } else {
            Ok(text.to_owned())
        }
    }
}

/// The items of a `|`-separated list, trimmed, empty ones left out.
pub fn items(text: &str) -> impl Iterator<Item = &str> {
    text.split('|').map(str::trim).filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn numbers_take_a_decimal_comma_and_grouped_digits() {
        assert_eq!(decimal("1 234,56").unwrap(), Decimal::new(123_456, 2));
        assert_eq!(decimal("7.40").unwrap(), Decimal::new(740, 2));
        assert!(decimal("7,4,0").is_err());
        assert!(non_negative("-1").is_err());
        assert!(positive("0").is_err());
        assert_eq!(id("17"), Ok(17));
        assert!(id("0").is_err() && id("-3").is_err() && id("9223372036854775808").is_err());
    }

    #[test]
    fn dates_and_periods_in_both_spellings() {
        assert_eq!(date("2026-10-20"), Ok(date!(2026 - 10 - 20)));
        assert_eq!(date("20.10.2026"), Ok(date!(2026 - 10 - 20)));
        assert!(date("31.02.2026").is_err());
        assert!(date("2026-1-2").is_err());
        assert_eq!(period("10.2026").unwrap().to_string(), "2026-10");
        assert_eq!(period("2026-10").unwrap().to_string(), "2026-10");
        assert!(period("2026-13").is_err());
        assert_eq!(yes_no("Да"), Ok(true));
        assert!(yes_no("может быть").is_err());
    }
}
