//! Creates `accounts`: the personal accounts (ЛС) of each supplier — **UNIQUE (`supplier_id`,
//! `number`)**, so a printed number names one account — with their premise, holder, consumer
//! group (a tag) and services (JSON of the domain's serde form); indexed by (premise, id).

use sea_orm_migration::prelude::*;

/// Creates and drops `accounts`.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Accounts {
    Table,
    Id,
    SupplierId,
    Number,
    PremiseId,
    Holder,
    ConsumerGroup,
    Services,
}

#[derive(DeriveIden)]
enum Suppliers {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Premises {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Accounts::Table)
                    .col(
                        ColumnDef::new(Accounts::Id)
                            .big_integer()
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(Accounts::SupplierId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(Accounts::Number).string_len(20).not_null())
                    .col(ColumnDef::new(Accounts::PremiseId).big_integer().not_null())
                    .col(ColumnDef::new(Accounts::Holder).text().not_null())
                    .col(
                        ColumnDef::new(Accounts::ConsumerGroup)
                            .string_len(32)
                            .not_null(),
                    )
                    .col(ColumnDef::new(Accounts::Services).text().not_null())
                    .foreign_key(
                        ForeignKey::create()
                            .name("accounts_supplier_fkey")
                            .from(Accounts::Table, Accounts::SupplierId)
                            .to(Suppliers::Table, Suppliers::Id)
                            .on_delete(ForeignKeyAction::Restrict)
                            .on_update(ForeignKeyAction::Restrict),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("accounts_premise_fkey")
                            .from(Accounts::Table, Accounts::PremiseId)
                            .to(Premises::Table, Premises::Id)
                            .on_delete(ForeignKeyAction::Restrict)
                            .on_update(ForeignKeyAction::Restrict),
                    )
                    .index(
                        Index::create()
                            .name("accounts_once_per_number")
                            .col(Accounts::SupplierId)
                            .col(Accounts::Number)
                            .unique(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("accounts_by_premise")
                    .table(Accounts::Table)
                    .col(Accounts::PremiseId)
                    .col(Accounts::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Accounts::Table).to_owned())
            .await
    }
}
