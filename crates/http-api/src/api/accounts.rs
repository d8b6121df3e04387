//! The ЛС of a cabinet (seeds 000, 001, 003): list them, link another one three ways (the code
//! on the payment document, the house and flat with the ЛС number, another cabinet's ЛС and
//! password), switch the active one, unlink; the house search of the address form.
//!
//! Account-scoped paths name the ЛС by its `account_id`; [`linked_account`] is the one gate
//! they pass through: an id that is not linked to the caller's cabinet — whether or not it
//! exists — is `not-linked` (404), so ids cannot be probed.

use billing_core::ids::{AccountId, SupplierId as BillingSupplierId};
use billing_core::model::{Account, AccountNumber as BillingAccountNumber};
use billing_core::reads::{AccountByNumberError, AccountCard, AccountError};
use identity_core::domain::{AccountNumber, AccountRef, Address, Flat, HouseId, SupplierId};
use identity_core::model::{ClientAction, LinkProof, LinkedAccount};
use identity_core::secret::Secret;
use poem::Request;
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi};
use time::OffsetDateTime;

use super::ApiTags;
use super::registration::{NoContent, invalid};
use crate::AppState;
use crate::auth::{Client, SubscriberAuth};
use crate::problem::{Problem, ProblemResponse, ProblemType};

/// The ЛС of the cabinet.
pub struct AccountsApi;

/// How an ЛС was proven to be the subscriber's.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[oai(rename_all = "snake_case")]
pub enum LinkProofDto {
    /// At registration, by the holder's name.
    HolderName,
    /// At registration, by a meter's serial number.
    MeterNumber,
    /// By the code on the payment document.
    PaymentDocumentCode,
    /// By the house, flat and ЛС number.
    Address,
    /// By another cabinet's ЛС number and password.
    CabinetPassword,
}

impl From<LinkProof> for LinkProofDto {
    fn from(p: LinkProof) -> Self {
        match p {
            LinkProof::HolderName => Self::HolderName,
            LinkProof::MeterNumber => Self::MeterNumber,
            LinkProof::PaymentDocumentCode => Self::PaymentDocumentCode,
            LinkProof::Address => Self::Address,
            LinkProof::CabinetPassword => Self::CabinetPassword,
        }
    }
}

/// An ЛС linked to the cabinet.
#[derive(Object, Debug)]
pub struct LinkedAccountDto {
    /// The id account-scoped paths take (`/api/v1/accounts/{account_id}/…`); absent when the
    /// supplier's records no longer hold the ЛС.
    #[oai(nullable)]
    pub account_id: Option<u64>,
    /// The supplier keeping the ЛС.
    pub supplier_id: String,
    /// The ЛС number.
    pub number: String,
    /// The premise's address, as the payment document prints it.
    #[oai(nullable)]
    pub address: Option<String>,
    /// How the ЛС was proven.
    pub proof: LinkProofDto,
    /// When it was linked.
    pub linked_at: OffsetDateTime,
    /// Whether the cabinet currently shows this ЛС.
    pub active: bool,
}

/// Link by the code printed on the payment document (case-sensitive).
#[derive(Object, Debug)]
#[oai(deny_unknown_fields)]
pub struct PaymentCodeBody {
    /// The code, exactly as printed.
    #[oai(validator(min_length = 1, max_length = 64))]
    pub code: String,
}

/// Link by the house and flat with the ЛС number.
#[derive(Object, Debug)]
#[oai(deny_unknown_fields)]
pub struct AddressLinkBody {
    /// The supplier keeping the ЛС.
    #[oai(validator(
        minimum(value = "1"),
        maximum(value = "9223372036854775808", exclusive = true)
    ))]
    pub supplier_id: u64,
    /// The ЛС number.
    #[oai(validator(min_length = 1, max_length = 32))]
    pub account_number: String,
    /// The house, as found by `GET /api/v1/suppliers/{supplier}/houses`.
    #[oai(validator(
        minimum(value = "1"),
        maximum(value = "9223372036854775808", exclusive = true)
    ))]
    pub house_id: u64,
    /// The flat; absent for a private house.
    #[oai(validator(min_length = 1, max_length = 64))]
    pub flat: Option<String>,
}

/// Link the ЛС another cabinet was registered with, proven by that cabinet's password.
#[derive(Object, Debug)]
#[oai(deny_unknown_fields)]
pub struct CabinetPasswordBody {
    /// The other cabinet's ЛС number.
    #[oai(validator(min_length = 1, max_length = 32))]
    pub account_number: String,
    /// The other cabinet's password.
    #[oai(validator(min_length = 1, max_length = 1024))]
    pub password: String,
}

/// A house of the address picker.
#[derive(Object, Debug)]
pub struct HouseDto {
    /// Its id (`house_id` of linking by address).
    pub house_id: u64,
    /// Its postal address.
    pub address: String,
}

/// The ЛС was linked.
#[derive(ApiResponse)]
pub enum Linked {
    /// Linked; the first ЛС of a cabinet becomes the active one.
    #[oai(status = 201)]
    Created(Json<LinkedAccountDto>),
}

fn billing_problem(context: &str, e: &dyn std::fmt::Display) -> Problem {
    Problem::unavailable(context, e)
}

/// The billing id and address of a linked ЛС, if the supplier's records hold it.
async fn card_of(state: &AppState, account: &AccountRef) -> Result<Option<AccountCard>, Problem> {
    let (Ok(supplier), Ok(number)) = (
        account.supplier.as_str().parse::<u64>(),
        BillingAccountNumber::parse(account.number.as_str()),
    ) else {
        return Ok(None);
    };
    let found = match state
        .billing
        .account_by_number(BillingSupplierId::new(supplier), &number)
        .await
    {
        Ok(a) => a,
        Err(AccountByNumberError::AccountNotFound) => return Ok(None),
        Err(e @ AccountByNumberError::Repo(_)) => return Err(billing_problem("find an ЛС", &e)),
    };
    match state.billing.account_card(found.id).await {
        Ok(card) => Ok(Some(card)),
        Err(AccountError::AccountNotFound) => Ok(None),
        Err(e @ AccountError::Repo(_)) => Err(billing_problem("read an ЛС", &e)),
    }
}

async fn dto(state: &AppState, link: LinkedAccount) -> Result<LinkedAccountDto, Problem> {
    let card = card_of(state, &link.account).await?;
    Ok(LinkedAccountDto {
        account_id: card.as_ref().map(|c| c.account.id.get()),
        address: card.as_ref().map(AccountCard::address),
        supplier_id: link.account.supplier.to_string(),
        number: link.account.number.to_string(),
        proof: link.proof.into(),
        linked_at: link.linked_at,
        active: link.active,
    })
}

/// The ЛС `account_id` if it is linked to the cabinet of `auth`; `not-linked`
/// (404) otherwise — also for an id no ЛС has. Every account-scoped operation starts here.
/// The answer read with the session ([`crate::auth::Cabinet::gate`]) is used when it is about
/// this ЛС; otherwise the link is read.
pub async fn linked_account(
    state: &AppState,
    auth: &SubscriberAuth,
    account_id: u64,
) -> Result<(LinkedAccount, Account), Problem> {
    let not_linked = || Problem::new(ProblemType::NotLinked);
    if let Some(gate) = auth
        .cabinet()
        .gate
        .as_ref()
        .filter(|g| g.account == account_id)
    {
        return match &gate.link {
            Ok(link) => link.clone().ok_or_else(not_linked),
            Err(e) => Err(Problem::unavailable("find a session with its link", e)),
        };
    }
    let auth = auth.auth();
    // Ids are stored as i64, so a larger one names no ЛС. (An inclusive `maximum` validator of
    // 2^63 − 1 lets up to 2^63 + 1023 through: poem-openapi compares in f64. The id parameters
    // therefore say `maximum = 2^63, exclusive`; this guards the paths that do not.)
    if i64::try_from(account_id).is_err() {
        return Err(not_linked());
    }
    // The link and the ЛС in one read: every caller needs only the ЛС's id, supplier and
    // number (not its premise or house).
    state
        .links
        .linked_account(auth.subscriber(), AccountId::new(account_id))
        .await
        .map_err(|e| billing_problem("find a linked ЛС", &e))?
        .ok_or_else(not_linked)
}

fn account_number(field: &str, text: &str) -> Result<AccountNumber, Problem> {
    AccountNumber::parse(text).map_err(|e| invalid(field, &e))
}

#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Accounts")]
impl AccountsApi {
    /// The ЛС linked to the cabinet, oldest first; one of them is active.
    #[oai(path = "/accounts", method = "get", operation_id = "listAccounts")]
    async fn list(
        &self,
        state: Data<&AppState>,
        auth: SubscriberAuth,
    ) -> Result<Json<Vec<LinkedAccountDto>>, ProblemResponse> {
        let links = state
            .identity
            .list_linked_accounts(auth.auth())
            .await
            .map_err(Problem::from)?;
        let mut out = Vec::with_capacity(links.len());
        for link in links {
            out.push(dto(&state, link).await?);
        }
        Ok(Json(out))
    }

    /// Link an ЛС by the code printed on its payment document (seed 000: case-sensitive).
    /// Wrong codes are limited per cabinet and per address (`rate-limited`).
    #[oai(
        path = "/accounts/link/payment-code",
        method = "post",
        operation_id = "linkByPaymentCode"
    )]
    async fn link_by_code(
        &self,
        state: Data<&AppState>,
        req: &Request,
        auth: SubscriberAuth,
        body: Json<PaymentCodeBody>,
    ) -> Result<Linked, ProblemResponse> {
        let client = Client::admitted(&state, req, ClientAction::Linking).await?;
        let link = state
            .identity
            .link_by_payment_code(auth.auth(), &Secret::new(body.0.code), &client.info)
            .await
            .map_err(Problem::from)?;
        Ok(Linked::Created(Json(dto(&state, link).await?)))
    }

    /// Link an ЛС by its number with the house and flat of the premise (seed 001).
    #[oai(
        path = "/accounts/link/address",
        method = "post",
        operation_id = "linkByAddress"
    )]
    async fn link_by_address(
        &self,
        state: Data<&AppState>,
        req: &Request,
        auth: SubscriberAuth,
        body: Json<AddressLinkBody>,
    ) -> Result<Linked, ProblemResponse> {
        let body = body.0;
        let supplier = SupplierId::parse(&body.supplier_id.to_string())
            .map_err(|e| invalid("supplier_id", &e))?;
        let number = account_number("account_number", &body.account_number)?;
        let house =
            HouseId::parse(&body.house_id.to_string()).map_err(|e| invalid("house_id", &e))?;
        let flat = body
            .flat
            .as_deref()
            .map(Flat::parse)
            .transpose()
            .map_err(|e| invalid("flat", &e))?;
        let client = Client::admitted(&state, req, ClientAction::Linking).await?;
        let link = state
            .identity
            .link_by_address(
                auth.auth(),
                &AccountRef { supplier, number },
                &Address { house, flat },
                &client.info,
            )
            .await
            .map_err(Problem::from)?;
        Ok(Linked::Created(Json(dto(&state, link).await?)))
    }

    /// Link the ЛС another cabinet was registered with, proven by that cabinet's password
    /// (seed 003). Wrong passwords also count against the other cabinet's login limit.
    #[oai(
        path = "/accounts/link/cabinet-password",
        method = "post",
        operation_id = "linkByCabinetPassword"
    )]
    async fn link_by_password(
        &self,
        state: Data<&AppState>,
        req: &Request,
        auth: SubscriberAuth,
        body: Json<CabinetPasswordBody>,
    ) -> Result<Linked, ProblemResponse> {
        let body = body.0;
        let number = account_number("account_number", &body.account_number)?;
        let client = Client::admitted(&state, req, ClientAction::Linking).await?;
        let link = state
            .identity
            .link_by_cabinet_password(
                auth.auth(),
                &number,
                &Secret::new(body.password),
                &client.info,
            )
            .await
            .map_err(Problem::from)?;
        Ok(Linked::Created(Json(dto(&state, link).await?)))
    }

    /// Make a linked ЛС the active one (the one the cabinet shows).
    #[oai(
        path = "/accounts/:account_id/activate",
        method = "post",
        operation_id = "activateAccount"
    )]
    async fn activate(
        &self,
        state: Data<&AppState>,
        req: &Request,
        auth: SubscriberAuth,
        #[oai(validator(
            minimum(value = "1"),
            maximum(value = "9223372036854775808", exclusive = true)
        ))]
        account_id: Path<u64>,
    ) -> Result<NoContent, ProblemResponse> {
        let (link, _) = linked_account(&state, &auth, account_id.0).await?;
        state
            .identity
            .switch_active_account(auth.auth(), &link.account, &Client::of(req).info)
            .await
            .map_err(Problem::from)?;
        Ok(NoContent::Done)
    }

    /// Unlink an ЛС. If it was the active one, the oldest remaining ЛС becomes active.
    #[oai(
        path = "/accounts/:account_id",
        method = "delete",
        operation_id = "unlinkAccount"
    )]
    async fn unlink(
        &self,
        state: Data<&AppState>,
        req: &Request,
        auth: SubscriberAuth,
        #[oai(validator(
            minimum(value = "1"),
            maximum(value = "9223372036854775808", exclusive = true)
        ))]
        account_id: Path<u64>,
    ) -> Result<NoContent, ProblemResponse> {
        let (link, _) = linked_account(&state, &auth, account_id.0).await?;
        state
            .identity
            .unlink_account(auth.auth(), &link.account, &Client::of(req).info)
            .await
            .map_err(Problem::from)?;
        Ok(NoContent::Done)
    }

    /// Houses of a supplier whose address contains every word of `q` (case-insensitive,
    /// «ё» = «е»), for the address form of linking.
    #[oai(
        path = "/suppliers/:supplier_id/houses",
        method = "get",
        operation_id = "searchHouses"
    )]
    async fn houses(
        &self,
        state: Data<&AppState>,
        #[oai(validator(
            minimum(value = "1"),
            maximum(value = "9223372036854775808", exclusive = true)
        ))]
        supplier_id: Path<u64>,
        /// Words of the address, for example `ленина 15`.
        #[oai(validator(min_length = 2, max_length = 200))]
        q: Query<String>,
        /// How many houses (1–50, default 20).
        #[oai(validator(minimum(value = "1"), maximum(value = "50")))]
        limit: Query<Option<u32>>,
    ) -> Result<Json<Vec<HouseDto>>, ProblemResponse> {
        let found = state
            .houses
            .search(supplier_id.0, &q.0, limit.0.unwrap_or(20))
            .await
            .map_err(|e| Problem::unavailable("search houses", &e))?;
        Ok(Json(
            found
                .into_iter()
                .map(|h| HouseDto {
                    house_id: h.id,
                    address: h.address,
                })
                .collect(),
        ))
    }
}
