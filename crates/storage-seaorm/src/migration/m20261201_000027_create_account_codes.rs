//! Creates `account_codes`: the code printed on an ЛС's payment document (seed 000: linking
//! "by the code from your payment document, case-sensitive"), stored only as its SHA-256
//! digest — one code per ЛС, each digest unique, so a code names at most one ЛС.

use sea_orm_migration::prelude::*;

/// Creates and drops `account_codes`.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum AccountCodes {
    Table,
    AccountId,
    CodeDigest,
    IssuedAt,
}

#[derive(DeriveIden)]
enum Accounts {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AccountCodes::Table)
                    .col(
                        ColumnDef::new(AccountCodes::AccountId)
                            .big_integer()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(AccountCodes::CodeDigest).blob().not_null())
                    .col(
                        ColumnDef::new(AccountCodes::IssuedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("account_codes_account")
                            .from(AccountCodes::Table, AccountCodes::AccountId)
                            .to(Accounts::Table, Accounts::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("account_codes_by_digest")
                    .table(AccountCodes::Table)
                    .col(AccountCodes::CodeDigest)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(AccountCodes::Table).to_owned())
            .await
    }
}
