//! The campaign rules: one immutable [`Rules`] value with a documented default for every amount,
//! and [`Rules::evaluate`], a pure function from an order and the customer's recorded orders to
//! the voucher it earns, if any.
//!
//! The window of an order is every order of the same customer placed in the [`Rules::window`]
//! up to and including its own `placed_at`. Only orders placed *before* it count as earlier
//! (by `placed_at`, ties broken by `order_id`): orders placed later, which may have been
//! recorded first because events are unordered, never change whether this one qualifies.
//!
//! - `third_order`: the order is the third in its window.
//! - `big_spender`: the window's total crosses the threshold with this order — the earlier
//!   orders' total is below it and the total with this order reaches it. Only orders in the
//!   order's currency are added up; the count for `third_order` takes every currency.
//!
//! When both fire, the order earns one voucher: `big_spender`'s (worth more by default).
//!
//! An order that arrives after a later one was already evaluated does not re-evaluate the later
//! one: each order is judged once, on the orders known when it arrives. So that arrival order
//! cannot earn a customer a rule's voucher twice (orders placed A, B, C, D arriving A, B, D, C
//! make both D and C third in their windows), the handler gives each rule's voucher to the
//! customer's first order that qualifies, whatever their arrival: at most one voucher per
//! customer and rule ([`crate::store::CampaignStore::claim`]).

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use shop_events::VoucherRule;

/// The position in the window that earns the `third_order` voucher.
const THIRD: usize = 3;

/// The campaign's rules and amounts, built once. Money is in minor units of the order's currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rules {
    /// How far back, from an order's `placed_at`, orders count (inclusive). Default: 90 days.
    pub window: TimeDelta,
    /// The window total that makes a big spender. Default: 150000 (1500.00 EUR).
    pub big_spender_threshold_minor: u64,
    /// What a `big_spender` voucher is worth. Default: 1000 (10.00 EUR).
    pub big_spender_value_minor: u64,
    /// What a `third_order` voucher is worth. Default: 500 (5.00 EUR).
    pub third_order_value_minor: u64,
    /// How long a voucher can be redeemed, from the qualifying order's `placed_at` (not from the
    /// moment of issue, so a retry computes the same date). Default: 90 days.
    pub voucher_validity: TimeDelta,
}

impl Default for Rules {
    fn default() -> Self {
        Self {
            window: TimeDelta::days(90),
            big_spender_threshold_minor: 150_000,
            big_spender_value_minor: 1_000,
            third_order_value_minor: 500,
            voucher_validity: TimeDelta::days(90),
        }
    }
}

/// One placed order, as the rules see it (and as the customer-orders table stores it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlacedOrder {
    /// The order.
    pub order_id: String,
    /// What the customer pays, in minor units of `currency`.
    pub total_minor: u64,
    /// ISO 4217 code of the total.
    pub currency: String,
    /// When it was placed: the OrderPlaced event's `occurred_at`.
    pub placed_at: DateTime<Utc>,
}

/// The voucher an order earns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Award {
    /// The rule it met.
    pub rule: VoucherRule,
    /// What the voucher is worth, in minor units of the order's currency.
    pub value_minor: u64,
    /// Last moment it can be redeemed.
    pub valid_until: DateTime<Utc>,
}

impl Rules {
    /// The voucher `order` earns, given the customer's recorded orders (`history` may hold
    /// `order` itself, and orders outside its window, which are ignored).
    pub fn evaluate(&self, order: &PlacedOrder, history: &[PlacedOrder]) -> Option<Award> {
        // An order dated at the edge of the representable range (a forged `-262143-01-01`) must
        // not panic the function: the window and the validity clamp to the range instead.
        let window_start = order
            .placed_at
            .checked_sub_signed(self.window)
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        let earlier: Vec<&PlacedOrder> = history
            .iter()
            .filter(|o| o.order_id != order.order_id)
            .filter(|o| o.placed_at >= window_start)
            .filter(|o| (o.placed_at, &o.order_id) < (order.placed_at, &order.order_id))
            .collect();
        let before: u64 = earlier
            .iter()
            .filter(|o| o.currency == order.currency)
            .fold(0, |sum, o| sum.saturating_add(o.total_minor));
        let with_this = before.saturating_add(order.total_minor);
        let threshold = self.big_spender_threshold_minor;
        let rule = if before < threshold && with_this >= threshold {
            VoucherRule::BigSpender
        } else if earlier.len() + 1 == THIRD {
            VoucherRule::ThirdOrder
        } else {
            return None;
        };
        Some(self.award(rule, order))
    }

    /// The voucher of `rule` for `order`: its value by rule, valid from the order's `placed_at`
    /// for [`Rules::voucher_validity`]. The same on every call, whatever the history.
    pub fn award(&self, rule: VoucherRule, order: &PlacedOrder) -> Award {
        let value_minor = match rule {
            VoucherRule::BigSpender => self.big_spender_value_minor,
            VoucherRule::ThirdOrder => self.third_order_value_minor,
        };
        Award {
            rule,
            value_minor,
            valid_until: order
                .placed_at
                .checked_add_signed(self.voucher_validity)
                .unwrap_or(DateTime::<Utc>::MAX_UTC),
        }
    }
}

#[cfg(test)]
mod tests {
    use herald_tests::TestResult;

    use super::*;

    /// An order placed `day` days after an arbitrary start, in EUR.
    fn order(id: &str, day: i64, total_minor: u64) -> PlacedOrder {
        PlacedOrder {
            order_id: id.to_owned(),
            total_minor,
            currency: "EUR".to_owned(),
            placed_at: DateTime::UNIX_EPOCH + TimeDelta::days(20_000 + day),
        }
    }

    /// What each order earns when the orders arrive one after another.
    fn in_arrival_order(orders: &[PlacedOrder]) -> Vec<Option<VoucherRule>> {
        let rules = Rules::default();
        (0..orders.len())
            .map(|i| rules.evaluate(&orders[i], &orders[..=i]).map(|a| a.rule))
            .collect()
    }

    #[test]
    fn exactly_the_third_order_in_the_window_earns_a_third_order_voucher() -> TestResult {
        // Given four small orders within a week
        let orders = [
            order("ord-1", 0, 1_000),
            order("ord-2", 2, 1_000),
            order("ord-3", 4, 1_000),
            order("ord-4", 6, 1_000),
        ];

        // When each is evaluated as it arrives
        let earned = in_arrival_order(&orders);

        // Then only the third earns a voucher, worth the third-order value
        assert_eq!(earned, [None, None, Some(VoucherRule::ThirdOrder), None]);
        let award = Rules::default()
            .evaluate(&orders[2], &orders)
            .ok_or("the third order earns a voucher")?;
        assert_eq!(award.value_minor, 500);
        Ok(())
    }

    #[test]
    fn crossing_the_threshold_earns_a_big_spender_voucher_once() -> TestResult {
        // Given 1000.00, then 600.00 (crossing 1500.00), then two small orders
        let orders = [
            order("ord-1", 0, 100_000),
            order("ord-2", 10, 60_000),
            order("ord-3", 20, 1_000),
            order("ord-4", 30, 1_000),
        ];

        // When each is evaluated as it arrives
        let earned = in_arrival_order(&orders);

        // Then the crossing order is the big spender; the total staying above does not fire again
        assert_eq!(
            earned,
            [None, Some(VoucherRule::BigSpender), Some(VoucherRule::ThirdOrder), None]
        );
        let award = Rules::default()
            .evaluate(&orders[1], &orders)
            .ok_or("the crossing order earns a voucher")?;
        assert_eq!(award.value_minor, 1_000);
        Ok(())
    }

    #[test]
    fn reaching_the_threshold_exactly_counts_as_crossing_it() -> TestResult {
        // Given one order of exactly 1500.00
        let orders = [order("ord-1", 0, 150_000)];

        // When it is evaluated
        let earned = in_arrival_order(&orders);

        // Then it is a big spender
        assert_eq!(earned, [Some(VoucherRule::BigSpender)]);
        Ok(())
    }

    #[test]
    fn orders_older_than_the_window_do_not_count() -> TestResult {
        // Given two orders 91 days and more before the third, one of them big
        let orders = [
            order("ord-1", 0, 149_000),
            order("ord-2", 5, 500),
            order("ord-3", 96, 2_000),
        ];

        // When the third is evaluated
        let earned = Rules::default().evaluate(&orders[2], &orders);

        // Then it is the first in its window and its window total is 20.00: nothing
        assert_eq!(earned, None);
        Ok(())
    }

    #[test]
    fn an_order_exactly_at_the_window_start_still_counts() -> TestResult {
        // Given orders 90 and 45 days before the third
        let orders = [
            order("ord-1", 0, 1_000),
            order("ord-2", 45, 1_000),
            order("ord-3", 90, 1_000),
        ];

        // When the third is evaluated
        let earned = Rules::default().evaluate(&orders[2], &orders).map(|a| a.rule);

        // Then all three are in the window
        assert_eq!(earned, Some(VoucherRule::ThirdOrder));
        Ok(())
    }

    #[test]
    fn when_both_rules_fire_the_big_spender_voucher_wins() -> TestResult {
        // Given two small orders, then a third that crosses the threshold
        let orders = [
            order("ord-1", 0, 1_000),
            order("ord-2", 1, 1_000),
            order("ord-3", 2, 148_000),
        ];

        // When the third is evaluated
        let award = Rules::default()
            .evaluate(&orders[2], &orders)
            .ok_or("the third order earns a voucher")?;

        // Then it earns one voucher, big spender's
        assert_eq!((award.rule, award.value_minor), (VoucherRule::BigSpender, 1_000));
        Ok(())
    }

    #[test]
    fn orders_placed_later_do_not_count_even_when_recorded_first() -> TestResult {
        // Given two later orders already recorded when the earliest arrives
        let orders = [
            order("ord-1", 0, 1_000),
            order("ord-2", 1, 1_000),
            order("ord-3", 2, 1_000),
        ];

        // When the earliest is evaluated against all three
        let earned = Rules::default().evaluate(&orders[0], &orders);

        // Then it is still the customer's first order in its window
        assert_eq!(earned, None);
        Ok(())
    }

    #[test]
    fn totals_in_another_currency_are_not_added_up() -> TestResult {
        // Given 1400.00 in USD, then 200.00 in EUR
        let mut dollars = order("ord-1", 0, 140_000);
        dollars.currency = "USD".to_owned();
        let orders = [dollars, order("ord-2", 1, 20_000)];

        // When the EUR order is evaluated
        let earned = Rules::default().evaluate(&orders[1], &orders);

        // Then its EUR window total is 200.00: nothing
        assert_eq!(earned, None);
        Ok(())
    }

    #[test]
    fn a_voucher_is_valid_for_the_validity_period_from_the_order() -> TestResult {
        // Given a big order
        let big = order("ord-1", 0, 200_000);

        // When it is evaluated
        let award = Rules::default()
            .evaluate(&big, std::slice::from_ref(&big))
            .ok_or("a big order earns a voucher")?;

        // Then the voucher runs 90 days from the order
        assert_eq!(award.valid_until, big.placed_at + TimeDelta::days(90));
        Ok(())
    }

    #[test]
    fn orders_dated_at_the_edges_of_time_are_judged_without_panicking() -> TestResult {
        // Given a big order at the earliest representable instant and one at the latest
        let mut first = order("ord-1", 0, 200_000);
        first.placed_at = DateTime::<Utc>::MIN_UTC;
        let mut last = order("ord-2", 0, 200_000);
        last.placed_at = DateTime::<Utc>::MAX_UTC;

        // When each is evaluated
        let rules = Rules::default();
        let early = rules.evaluate(&first, std::slice::from_ref(&first)).ok_or("big")?;
        let late = rules.evaluate(&last, std::slice::from_ref(&last)).ok_or("big")?;

        // Then both earn their voucher, the window and the validity clamped to the range
        assert_eq!(early.valid_until, DateTime::<Utc>::MIN_UTC + TimeDelta::days(90));
        assert_eq!(late.valid_until, DateTime::<Utc>::MAX_UTC);
        Ok(())
    }
}
