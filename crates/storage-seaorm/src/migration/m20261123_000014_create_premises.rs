//! Creates `premises`: the flats and non-residential rooms of each house with their area,
//! registered persons and rooms; indexed by (house, id).

use sea_orm_migration::prelude::*;

use super::exact;

/// Creates and drops `premises`.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Premises {
    Table,
    Id,
    HouseId,
    Number,
    Area,
    Residential,
    Persons,
    Rooms,
}

#[derive(DeriveIden)]
enum Houses {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Premises::Table)
                    .col(
                        ColumnDef::new(Premises::Id)
                            .big_integer()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(Premises::HouseId).big_integer().not_null())
                    .col(ColumnDef::new(Premises::Number).text().not_null())
                    .col(exact::decimal(manager, Premises::Area).not_null())
                    .col(ColumnDef::new(Premises::Residential).boolean().not_null())
                    .col(ColumnDef::new(Premises::Persons).integer().not_null())
                    .col(ColumnDef::new(Premises::Rooms).integer().not_null())
                    .foreign_key(
                        ForeignKey::create()
                            .name("premises_house_fkey")
                            .from(Premises::Table, Premises::HouseId)
                            .to(Houses::Table, Houses::Id)
                            .on_delete(ForeignKeyAction::Restrict)
                            .on_update(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("premises_by_house")
                    .table(Premises::Table)
                    .col(Premises::HouseId)
                    .col(Premises::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Premises::Table).to_owned())
            .await
    }
}
