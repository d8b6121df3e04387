//! The import on a real SQLite database: a whole reference set, bad rows reported with their
//! lines and nothing applied, conflicts with stored data applying nothing, the bank registry
//! credited exactly once.

use std::sync::Arc;

use billing_core::Money;
use billing_core::ids::{AccountId, HouseId, MeterId, PremiseId, SupplierId};
use billing_core::model::AccountNumber;
use billing_core::ports::{
    AccountRepository, HouseRepository, LedgerRepository, MeterRepository, ReadingRepository,
    SupplierRepository, TariffRepository,
};
use fake_providers::SystemClock;
use storage_seaorm::Storage;

use super::*;

const SUPPLIERS: &str = "\u{feff}id;name;inn;kpp;personal_acc;bank_name;bic;corresp_acc;address;phones;emergency_phones;minimum_payment
1;АО «Тест Энергосбыт»;7707083893;770701001;40702810200000000001;ПАО Сбербанк;044525225;30101810400000000225;г. Тула, ул. Советская, д. 1;8 800 100-00-00;Аварийная служба: +7 (4872) 00-00-00;50,00
";

const HOUSES: &str = "id;address;total_area;common_area;odn_billed;odn_norm
1;г. Тула, ул. Ленина, д. 10;1 800,0;300,5;да;2,1
2;г. Тула, ул. Ленина, д. 12;960;;нет;
";

const PREMISES: &str = "id;house;number;area;persons;rooms
1;1;1;52,40;2;2
2;1;2;68,1;3;3
3;2;;96;4;
";

const ACCOUNTS: &str = "id;number;premise;holder;group;services;payment_code
1;7700100001;1;Иванов Иван Иванович;population;electricity:90;Qa7kQ2xRp9
2;7700-100002;2;Петрова Анна Сергеевна;population;electricity:90|cold_water:4,5:no-meter;
3;7700100003;3;Смирнов Алексей Петрович;rural;electricity:120;
";

const METERS: &str =
    "id;account;service;serial;scheme;digits;decimals;installed_on;commissioned_on;verification_due
1;1;electricity;011234567;single;5;0;2019-01-01;01.01.2019;2035-01-01
2;2;electricity;021234567;two_zone;5;;2019-01-01;2019-01-01;
3;3;electricity;031234567;1;5;0;2019-01-01;2019-01-01;
";

const TARIFFS: &str = "id;service;group;valid_from;type;price;p1;p1_two_zone;p2;p3;threshold1;threshold2;seasonal_factor;season;norm_base;norm_per_person
1;electricity;population;2025-07-01;electricity_ranges;;6,85;7,90|4,10;8,10;11,50;3900;6000;1,8;1-4|10-12;;
2;electricity;rural;2025-07-01;electricity_social_norm;;4,80;;6,85;;;;;;150;50
3;cold_water;population;2025-07-01;volumetric;45,20;;;;;;;;;;
";

const READINGS: &str = "meter;period;taken_on;t1;t2;source
1;2026-09;2026-09-20;12 345;;operator
2;09.2026;20.09.2026;1000;500,0;automatic
";

async fn importer() -> (Importer, Storage, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("import.db").display());
    let storage = Storage::connect(&url).await.unwrap();
    storage.migrate().await.unwrap();
    let importer = Importer::new(storage.clone(), Arc::new(SystemClock::default()));
    (importer, storage, dir)
}

fn supplier() -> Options {
    Options {
        supplier: Some(1),
        registry: None,
    }
}

async fn import(
    importer: &Importer,
    kind: Kind,
    text: &str,
    options: Options,
) -> Result<Report, ImportError> {
    importer
        .run(
            kind,
            std::io::Cursor::new(text.as_bytes().to_vec()),
            options,
            Arc::new(Silent),
        )
        .await
}

/// Imports the whole reference set of supplier 1.
async fn reference_set(importer: &Importer) {
    for (kind, text) in [
        (Kind::Suppliers, SUPPLIERS),
        (Kind::Houses, HOUSES),
        (Kind::Premises, PREMISES),
        (Kind::Accounts, ACCOUNTS),
        (Kind::Meters, METERS),
        (Kind::Tariffs, TARIFFS),
    ] {
        let report = import(importer, kind, text, supplier()).await.unwrap();
        assert_eq!(report.rows, report.applied, "{kind:?}");
        assert!(report.rows > 0, "{kind:?}");
    }
}

/// The errors of a file that must not be applied.
fn invalid(result: Result<Report, ImportError>) -> Vec<(u64, Option<String>, String)> {
    match result {
        Err(ImportError::Invalid { errors, total }) => {
            assert_eq!(total, u64::try_from(errors.len()).unwrap());
            errors
                .into_iter()
                .map(|e| (e.line, e.column, e.reason))
                .collect()
        }
        other => panic!("expected line errors, got {other:?}"),
    }
}

/// The (line, column) of each error; "" for a row's error.
fn columns(errors: &[(u64, Option<String>, String)]) -> Vec<(u64, &str)> {
    errors
        .iter()
        .map(|(l, c, _)| (*l, c.as_deref().unwrap_or_default()))
        .collect()
}

#[tokio::test]
async fn a_whole_reference_set_is_imported_with_decimal_commas() {
    let (importer, storage, _dir) = importer().await;
    reference_set(&importer).await;

    let s = storage.supplier(SupplierId::new(1)).await.unwrap().unwrap();
    assert_eq!(s.requisites.name().as_str(), "АО «Тест Энергосбыт»");
    assert_eq!(s.minimum_payment, Money::from_roubles(50));
    let house = storage.house(HouseId::new(1)).await.unwrap().unwrap();
    assert_eq!(house.total_area, rust_decimal::Decimal::from(1800));
    assert!(house.odn.billed_by_supplier);
    let premise = storage.premise(PremiseId::new(3)).await.unwrap().unwrap();
    assert_eq!((premise.number.as_str(), premise.rooms), ("", 1));
    let petrova = storage
        .find_by_number(
            SupplierId::new(1),
            &AccountNumber::parse("7700100002").unwrap(),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(petrova.services.len(), 2);
    assert!(!petrova.services[1].meter_installable);
    let code = crate::payment_codes::digest("Qa7kQ2xRp9");
    assert_eq!(
        storage.account_by_payment_code(&code).await.unwrap(),
        Some(AccountId::new(1))
    );
    let meter = storage.meter(MeterId::new(2)).await.unwrap().unwrap();
    assert_eq!(meter.registers.scheme.len(), 2);
    assert_eq!(storage.versions(SupplierId::new(1)).await.unwrap().len(), 3);

    let report = import(&importer, Kind::Readings, READINGS, Options::default())
        .await
        .unwrap();
    assert_eq!((report.rows, report.applied), (2, 2));
    let history = storage.history(MeterId::new(2)).await.unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].values.total(), rust_decimal::Decimal::from(1500));

    // Upserts are idempotent: the same files again change nothing and fail nothing.
    reference_set(&importer).await;
    assert_eq!(storage.versions(SupplierId::new(1)).await.unwrap().len(), 3);
    // Readings are not upserted: the same period again is a conflict, writing nothing.
    let again = import(&importer, Kind::Readings, READINGS, Options::default()).await;
    assert!(matches!(again, Err(ImportError::Conflict(_))), "{again:?}");
    assert_eq!(storage.history(MeterId::new(1)).await.unwrap().len(), 1);
}

#[tokio::test]
async fn bad_rows_are_reported_by_line_and_nothing_of_the_file_is_applied() {
    let (importer, storage, _dir) = importer().await;
    import(&importer, Kind::Suppliers, SUPPLIERS, Options::default())
        .await
        .unwrap();
    let file = "id;address;total_area;odn_billed
1;г. Тула, ул. Ленина, д. 10;1800;да
2;;960;нет
3;г. Тула, ул. Мира, д. 1;-5;может быть
4;г. Тула, ул. Мира, д. 3;100
5;г. Тула, ул. Мира, д. 5;100,5;нет
";
    let errors = invalid(import(&importer, Kind::Houses, file, supplier()).await);
    assert_eq!(
        columns(&errors),
        [
            (3, "address"),
            (4, "total_area"),
            (4, "odn_billed"),
            (5, "")
        ]
    );
    assert_eq!(errors[0].2, "не заполнено");
    assert!(errors[1].2.contains("больше нуля"), "{}", errors[1].2);
    assert!(errors[3].2.contains("полей"), "{}", errors[3].2);
    // The good rows 1 and 5 were not applied either.
    assert_eq!(storage.house(HouseId::new(1)).await.unwrap(), None);
    assert_eq!(storage.house(HouseId::new(5)).await.unwrap(), None);
}

#[tokio::test]
async fn a_bad_header_is_line_1_and_options_are_checked() {
    let (importer, _storage, _dir) = importer().await;
    import(&importer, Kind::Suppliers, SUPPLIERS, Options::default())
        .await
        .unwrap();
    let errors = invalid(
        import(
            &importer,
            Kind::Premises,
            "id;house;area;flat\n1;1;50;2\n",
            Options::default(),
        )
        .await,
    );
    assert_eq!(columns(&errors), [(1, "flat"), (1, "persons")]);
    assert!(
        invalid(import(&importer, Kind::Meters, "", Options::default()).await)[0]
            .2
            .contains("заголовок")
    );
    // A comma-separated file is one unknown column.
    let errors = invalid(
        import(
            &importer,
            Kind::Premises,
            "id,house,area,persons\n1,1,50,2\n",
            Options::default(),
        )
        .await,
    );
    assert_eq!(errors[0].1.as_deref(), Some("id,house,area,persons"));
    // Houses need a supplier that exists; a registry needs its identifier.
    let none = import(&importer, Kind::Houses, HOUSES, Options::default()).await;
    assert!(matches!(none, Err(ImportError::Options(_))), "{none:?}");
    let unknown = Options {
        supplier: Some(9),
        registry: None,
    };
    let unknown = import(&importer, Kind::Houses, HOUSES, unknown).await;
    assert!(
        matches!(unknown, Err(ImportError::Options(_))),
        "{unknown:?}"
    );
    let no_registry = import(&importer, Kind::BankRegistry, "", supplier()).await;
    assert!(
        matches!(no_registry, Err(ImportError::Options(_))),
        "{no_registry:?}"
    );
}

#[tokio::test]
async fn a_file_the_database_refuses_changes_nothing() {
    let (importer, storage, _dir) = importer().await;
    import(&importer, Kind::Suppliers, SUPPLIERS, Options::default())
        .await
        .unwrap();
    import(&importer, Kind::Houses, HOUSES, supplier())
        .await
        .unwrap();
    // Premise 2 names house 7, which does not exist: premise 1 is not stored either.
    let file = "id;house;area;persons\n1;1;50;2\n2;7;40;1\n";
    let refused = import(&importer, Kind::Premises, file, Options::default()).await;
    assert!(
        matches!(refused, Err(ImportError::Conflict(_))),
        "{refused:?}"
    );
    assert_eq!(storage.premise(PremiseId::new(1)).await.unwrap(), None);
}

#[tokio::test]
async fn accounts_readings_and_tariffs_check_their_own_rules() {
    let (importer, storage, _dir) = importer().await;
    reference_set(&importer).await;
    // The same ЛС number for two ids, a code another ЛС has, a service twice.
    let file = "id;number;premise;holder;group;services;payment_code
7;7700100007;1;Сидоров Пётр;population;electricity:90|electricity:80;
8;7700100008;2;Кузнецова Мария;population;;Qa7kQ2xRp9
9;7700100007;3;Новиков Олег;workers;;short
";
    let errors = invalid(import(&importer, Kind::Accounts, file, supplier()).await);
    assert_eq!(
        columns(&errors),
        [
            (2, "services"),
            (3, "payment_code"),
            (4, "group"),
            (4, "payment_code"),
            (4, "number"),
        ]
    );
    assert!(errors[1].2.contains("id 1"), "{}", errors[1].2);
    assert!(errors[4].2.contains("строке 2"), "{}", errors[4].2);
    assert_eq!(
        storage.account(AccountId::new(7)).await.unwrap(),
        None,
        "nothing applied"
    );

    // Readings: an unknown meter, two values for a one-register meter, too many digits,
    // the same meter and period twice, a day to come.
    let file = "meter;period;taken_on;t1;t2
99;2026-09;2026-09-20;1;
1;2026-09;2026-09-20;1;2
3;2026-09;2026-09-20;123456;
3;2026-10;2026-10-20;10;
3;2026-10;2026-10-21;11;
1;2026-10;2099-10-20;11;
";
    let errors = invalid(import(&importer, Kind::Readings, file, Options::default()).await);
    let lines: Vec<_> = errors.iter().map(|(l, _, _)| *l).collect();
    assert_eq!(lines, [2, 3, 4, 6, 7]);
    assert!(errors[0].2.contains("99"), "{}", errors[0].2);
    assert!(errors[1].2.contains("зон"), "{}", errors[1].2);
    assert!(errors[3].2.contains("строке 5"), "{}", errors[3].2);
    assert!(storage.history(MeterId::new(3)).await.unwrap().is_empty());

    // Tariffs: a volumetric price for electricity, a missing price table, thresholds reversed.
    let file = "id;service;group;valid_from;type;price;p1;threshold1;threshold2
10;electricity;population;2026-01-01;volumetric;5;;;
11;electricity;population;2026-01-01;electricity_flat;;;;
12;electricity;population;2026-01-01;electricity_ranges;;1;6000;3900
";
    let errors = invalid(import(&importer, Kind::Tariffs, file, supplier()).await);
    assert_eq!(
        columns(&errors),
        [
            (2, "type"),
            (3, "p1"),
            (4, "p2"),
            (4, "p3"),
            (4, "threshold2")
        ]
    );
    assert_eq!(storage.versions(SupplierId::new(1)).await.unwrap().len(), 3);
}

#[tokio::test]
async fn a_bank_registry_is_credited_once_however_often_it_is_imported() {
    let (importer, storage, _dir) = importer().await;
    reference_set(&importer).await;
    let registry = || Options {
        supplier: Some(1),
        registry: Some("sber-2026-11-20".into()),
    };
    let file = "ref;account;amount;date;payer
A-1;7700100001;1 500,00;20.11.2026;Иванов И. И.
A-2;7700100002;800;2026-11-20;
A-3;7700 100003;120,50;2026-11-21;
";
    let first = import(&importer, Kind::BankRegistry, file, registry())
        .await
        .unwrap();
    assert_eq!(
        (first.rows, first.applied, first.duplicates),
        (3, 3, Some(0))
    );
    let again = import(&importer, Kind::BankRegistry, file, registry())
        .await
        .unwrap();
    assert_eq!(
        (again.rows, again.applied, again.duplicates),
        (3, 0, Some(3))
    );
    let payments = storage.payments(AccountId::new(1)).await.unwrap();
    assert_eq!(payments.len(), 1);
    assert_eq!(payments[0].amount, Money::from_kopecks(150_000));
    assert_eq!(payments[0].gateway_id.as_str(), "bank:sber-2026-11-20:A-1");

    // A registry with a bad row credits nothing: an unknown ЛС, a zero amount, a reference
    // used with another amount, a reference repeated in the file.
    let file = "ref;account;amount;date
B-1;7700100001;100;2026-11-22
B-2;7799999999;100;2026-11-22
B-3;7700100002;0;2026-11-22
A-1;7700100001;999;2026-11-22
B-1;7700100003;100;2026-11-22
";
    let other = Options {
        supplier: Some(1),
        registry: Some("sber-2026-11-20".into()),
    };
    let errors = invalid(import(&importer, Kind::BankRegistry, file, other).await);
    assert_eq!(
        columns(&errors),
        [(3, "account"), (4, "amount"), (5, "ref"), (6, "ref")]
    );
    assert_eq!(storage.payments(AccountId::new(1)).await.unwrap().len(), 1);
}
