//! The choices on which Berlin Group banks differ beyond the [`aisle_sdk::BankProfile`], set
//! with the connector's builder methods.

/// Which accounts the consent asks for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ConsentMode {
    /// `access.allPsd2 = "allAccounts"`: every payment and card account, with balances and
    /// transactions. The simplest for the owner; not every bank offers it.
    #[default]
    AllAccounts,
    /// Empty `balances` and `transactions` lists: the owner picks the accounts on the bank's
    /// own pages during SCA (the spec's "bank-offered consent").
    BankOffered,
    /// The owner names the accounts by IBAN in a form step before the consent is created;
    /// the consent lists them under `accounts`, `balances` and `transactions`. Card accounts
    /// are not covered (they would need card numbers), so `cards` answers `Unsupported`.
    DedicatedAccounts,
}

/// How the bank signs transaction amounts on payment accounts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum AmountSigns {
    /// Decide per page: any negative amount means the bank signs them; a page with none is
    /// read as unsigned.
    #[default]
    Auto,
    /// Amounts carry their sign (`-` debit, `+` or none credit), as the spec intends.
    Signed,
    /// Amounts are unsigned; a row naming only a creditor is a debit.
    Unsigned,
}

/// The SCA approach a bank is asked to prefer (`TPP-Redirect-Preferred`,
/// `TPP-Decoupled-Preferred`). The bank decides; its answer (`ASPSP-SCA-Approach`, its links)
/// is followed whatever was preferred.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ScaApproach {
    /// The owner authorises on the bank's page (`scaRedirect`), or its OAuth2 server
    /// (`scaOAuth`, which the spec counts as a redirect).
    #[default]
    Redirect,
    /// The owner approves in the bank's app while the widget waits.
    Decoupled,
    /// The owner types their bank login, password and one-time code into Aisle's widget.
    Embedded,
}

/// Everything the builder sets, with the defaults [`crate::BerlinGroupConnector::new`] uses.
#[derive(Debug, Clone)]
pub struct Options {
    pub consent_mode: ConsentMode,
    pub oauth_client_id: Option<String>,
    pub balances_in_account_list: bool,
    pub amount_signs: AmountSigns,
    pub consent_validity_days: u32,
    pub sca_preference: ScaApproach,
    /// Sent as `PSU-IP-Address` when the owner's own address cannot be (an IPv6 address to a
    /// bank that takes IPv4, as the spec's header is; or no owner present at sign-in).
    pub tpp_ip_address: Option<std::net::Ipv4Addr>,
    /// Whether the bank takes an IPv6 `PSU-IP-Address`. The spec types the header `ipv4`.
    pub psu_ipv6: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            consent_mode: ConsentMode::default(),
            oauth_client_id: None,
            balances_in_account_list: true,
            amount_signs: AmountSigns::default(),
            consent_validity_days: 1,
            sca_preference: ScaApproach::default(),
            tpp_ip_address: None,
            psu_ipv6: false,
        }
    }
}
