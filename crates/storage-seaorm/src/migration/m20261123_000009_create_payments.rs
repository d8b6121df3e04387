//! Creates `payments`: one row per gateway payment — **UNIQUE `gateway_id`**, so a webhook
//! delivered twice can never create two payments — with its state and the amount refunded.

use sea_orm_migration::prelude::*;

use super::exact;

/// Creates and drops `payments`.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Payments {
    Table,
    Id,
    GatewayId,
    AccountId,
    Amount,
    Split,
    CreatedOn,
    State,
    Refunded,
    FailureReason,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Payments::Table)
                    .col(
                        ColumnDef::new(Payments::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(Payments::GatewayId)
                            .string_len(128)
                            .not_null()
                            .unique_key(),
                    )
                    .col(ColumnDef::new(Payments::AccountId).big_integer().not_null())
                    .col(exact::money(manager, Payments::Amount).not_null())
                    .col(ColumnDef::new(Payments::Split).text())
                    .col(
                        ColumnDef::new(Payments::CreatedOn)
                            .string_len(10)
                            .not_null(),
                    )
                    .col(ColumnDef::new(Payments::State).string_len(16).not_null())
                    .col(exact::money(manager, Payments::Refunded).not_null())
                    .col(ColumnDef::new(Payments::FailureReason).text())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("payments_by_account")
                    .table(Payments::Table)
                    .col(Payments::AccountId)
                    .col(Payments::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Payments::Table).to_owned())
            .await
    }
}
