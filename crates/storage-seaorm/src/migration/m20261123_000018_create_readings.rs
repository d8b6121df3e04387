//! Creates `readings`: every submitted meter reading with its status (`accepted`, `superseded`,
//! `cancelled`) and the reading it corrects. **At most one accepted reading per (meter, period,
//! slot)** — the partial unique index `readings_one_accepted` — where the slot is `ordinary`,
//! `replacement_final` or `replacement_initial` (derived from the source), so a second accepted
//! reading is refused by the database itself, even from a concurrent writer. Indexed by
//! (meter, day taken, id) for a meter's history.

use sea_orm_migration::prelude::*;

/// Creates and drops `readings`.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Readings {
    Table,
    Id,
    MeterId,
    Period,
    RegisterValues,
    TakenOn,
    SubmittedAt,
    Source,
    Status,
    Slot,
    Supersedes,
}

#[derive(DeriveIden)]
enum Meters {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Readings::Table)
                    .col(
                        ColumnDef::new(Readings::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(Readings::MeterId).big_integer().not_null())
                    .col(ColumnDef::new(Readings::Period).integer().not_null())
                    .col(ColumnDef::new(Readings::RegisterValues).text().not_null())
                    .col(ColumnDef::new(Readings::TakenOn).string_len(10).not_null())
                    .col(
                        ColumnDef::new(Readings::SubmittedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(Readings::Source).string_len(32).not_null())
                    .col(ColumnDef::new(Readings::Status).string_len(16).not_null())
                    .col(ColumnDef::new(Readings::Slot).string_len(32).not_null())
                    .col(ColumnDef::new(Readings::Supersedes).big_integer())
                    .foreign_key(
                        ForeignKey::create()
                            .name("readings_meter_fkey")
                            .from(Readings::Table, Readings::MeterId)
                            .to(Meters::Table, Meters::Id)
                            .on_delete(ForeignKeyAction::Restrict)
                            .on_update(ForeignKeyAction::Restrict),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("readings_supersedes_fkey")
                            .from(Readings::Table, Readings::Supersedes)
                            .to(Readings::Table, Readings::Id)
                            .on_delete(ForeignKeyAction::Restrict)
                            .on_update(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("readings_by_meter")
                    .table(Readings::Table)
                    .col(Readings::MeterId)
                    .col(Readings::TakenOn)
                    .col(Readings::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE UNIQUE INDEX readings_one_accepted \
                 ON readings (meter_id, period, slot) WHERE status = 'accepted'",
            )
            .await
            .map(drop)
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Readings::Table).to_owned())
            .await
    }
}
