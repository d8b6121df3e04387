//! `premises`: flats and non-residential rooms of a house.

use sea_orm::entity::prelude::*;

use super::Exact;

/// A row of `premises`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "premises")]
pub struct Model {
    /// The premise's id.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: i64,
    /// The house.
    pub house_id: i64,
    /// Number (flat number).
    pub number: String,
    /// Total area, m².
    #[sea_orm(select_as = "text")]
    pub area: Exact,
    /// Residential or not.
    pub residential: bool,
    /// Registered persons.
    pub persons: i32,
    /// Rooms.
    pub rooms: i32,
}

/// No relations are navigated through SeaORM; foreign keys live in the migrations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
