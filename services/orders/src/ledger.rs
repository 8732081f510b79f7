//! Dealers' balance: each paid order's net amount (after the commission snapshot) is pending until
//! delivery plus the hold period, then available; a refund reverses it.

use accounts::Principal;
use kernel::Timestamp;
use sqlx::Row;

use crate::{
    domain::{Balance, LedgerLine},
    service::{iso, money},
    Orders, OrdersError,
};

impl Orders {
    pub async fn balance(&self, p: &Principal) -> Result<Balance, OrdersError> {
        p.require_dealer()?;
        let now = Timestamp::now().0;
        let rows = sqlx::query(
            "SELECT order_id, order_number, gross_minor, commission_minor, net_minor, currency, status, available_at, created_at \
             FROM ledger_entry WHERE dealer_id = $1 ORDER BY created_at DESC LIMIT 500",
        )
        .bind(p.user.id.to_string())
        .fetch_all(self.db().reader())
        .await?;
        let mut pending = 0;
        let mut available = 0;
        let mut currency = "EUR".to_owned();
        let mut entries = Vec::with_capacity(rows.len());
        for r in &rows {
            let c: String = r.try_get(5)?;
            let net: i64 = r.try_get(4)?;
            let status: String = r.try_get(6)?;
            let available_at: Option<i64> = r.try_get(7)?;
            let state = match (status.as_str(), available_at) {
                ("reversed", _) => "reversed",
                (_, Some(t)) if t <= now => "available",
                _ => "pending",
            };
            match state {
                "available" => available += net,
                "pending" => pending += net,
                _ => {}
            }
            currency = c.clone();
            entries.push(LedgerLine {
                order_id: r.try_get(0)?,
                order_number: r.try_get(1)?,
                gross: money(r.try_get(2)?, &c),
                commission: money(r.try_get(3)?, &c),
                net: money(net, &c),
                state: state.to_owned(),
                available_at: available_at.map(iso),
                created_at: iso(r.try_get(8)?),
            });
        }
        Ok(Balance { pending: money(pending, &currency), available: money(available, &currency), currency, entries })
    }
}
