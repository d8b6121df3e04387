//! Utility services, their units and volume precision.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A service billed on a personal account; also the key a payment is split by.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceKind {
    /// Electricity of the premise (электроснабжение).
    Electricity,
    /// Electricity for the common property of the house (ОДН, КР на СОИ; ПП 354 Appendix 2).
    ElectricityCommon,
    /// Cold water (холодное водоснабжение).
    ColdWater,
    /// Hot water, two-component (горячее водоснабжение; ПП 354 п. 38, ПП 406).
    HotWater,
    /// Heating (отопление).
    Heating,
    /// Wastewater (водоотведение).
    Wastewater,
    /// Penalties for late payment (пени; ЖК ст. 155 ч. 14). Never compounded.
    Penalty,
}

impl ServiceKind {
    /// Every service, in the default order of payment allocation and of the payment document.
    pub const ALL: [ServiceKind; 7] = [
        ServiceKind::Electricity,
        ServiceKind::ElectricityCommon,
        ServiceKind::ColdWater,
        ServiceKind::HotWater,
        ServiceKind::Heating,
        ServiceKind::Wastewater,
        ServiceKind::Penalty,
    ];

    /// The name a subscriber sees on the bill.
    #[must_use]
    pub fn russian_name(self) -> &'static str {
        match self {
            ServiceKind::Electricity => "Электроснабжение",
            ServiceKind::ElectricityCommon => "Электроснабжение на СОИ (ОДН)",
            ServiceKind::ColdWater => "Холодное водоснабжение",
            ServiceKind::HotWater => "Горячее водоснабжение",
            ServiceKind::Heating => "Отопление",
            ServiceKind::Wastewater => "Водоотведение",
            ServiceKind::Penalty => "Пени",
        }
    }

    /// The stable machine name (`electricity`, `electricity_common`, …).
    #[must_use]
    pub fn code(self) -> &'static str {
        match self {
            ServiceKind::Electricity => "electricity",
            ServiceKind::ElectricityCommon => "electricity_common",
            ServiceKind::ColdWater => "cold_water",
            ServiceKind::HotWater => "hot_water",
            ServiceKind::Heating => "heating",
            ServiceKind::Wastewater => "wastewater",
            ServiceKind::Penalty => "penalty",
        }
    }

    /// Parses [`ServiceKind::code`].
    #[must_use]
    pub fn from_code(code: &str) -> Option<ServiceKind> {
        ServiceKind::ALL.into_iter().find(|s| s.code() == code)
    }

    /// The unit the service's volume is measured in.
    #[must_use]
    pub fn unit(self) -> Unit {
        match self {
            ServiceKind::Electricity | ServiceKind::ElectricityCommon => Unit::KilowattHour,
            ServiceKind::ColdWater | ServiceKind::HotWater | ServiceKind::Wastewater => {
                Unit::CubicMetre
            }
            ServiceKind::Heating => Unit::Gigacalorie,
            ServiceKind::Penalty => Unit::Rouble,
        }
    }

    /// The default number of decimals a volume of this service keeps (billing-rules.md §1):
    /// kWh as read (3 decimals allow fractional registers and transformer coefficients), m³ to 3,
    /// Gcal to 6. Overridable per supplier through [`crate::policy::BillingPolicy`].
    #[must_use]
    pub fn default_volume_dp(self) -> u32 {
        match self {
            ServiceKind::Electricity | ServiceKind::ElectricityCommon => 3,
            ServiceKind::ColdWater | ServiceKind::HotWater | ServiceKind::Wastewater => 3,
            ServiceKind::Heating => 6,
            ServiceKind::Penalty => 2,
        }
    }
}

impl fmt::Display for ServiceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A unit of measure.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// Kilowatt-hour.
    KilowattHour,
    /// Cubic metre.
    CubicMetre,
    /// Gigacalorie.
    Gigacalorie,
    /// Square metre.
    SquareMetre,
    /// Rouble (penalties have no physical volume).
    Rouble,
}

impl Unit {
    /// The Russian abbreviation printed on the bill.
    #[must_use]
    pub fn russian(self) -> &'static str {
        match self {
            Unit::KilowattHour => "кВт·ч",
            Unit::CubicMetre => "м³",
            Unit::Gigacalorie => "Гкал",
            Unit::SquareMetre => "м²",
            Unit::Rouble => "₽",
        }
    }
}
