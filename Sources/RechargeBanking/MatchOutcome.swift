import RechargeCore

/// The verdict on one credit entry. Everything but ``matched(orderID:amount:)`` goes to the review list:
/// a bank transfer is never credited on a guess.
public enum MatchOutcome: Hashable, Sendable {
    /// A valid reference resolved to an order and the amount and currency are exactly what it expects.
    case matched(orderID: String, amount: Money)
    /// A valid reference resolved to an order, but the payer sent a different amount or currency.
    case amountMismatch(orderID: String, reference: PaymentReference, expected: Money, received: Money)
    /// Valid references were found, none known to the order store (old, cancelled or another creditor's).
    case unknownReference([PaymentReference])
    /// No valid RF reference anywhere in the remittance information (missing, or mistyped so the check
    /// digits fail).
    case noReference
}
