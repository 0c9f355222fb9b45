import RechargeCore

/// What the caller's order store says a payment reference is for: the order and the amount it expects.
public struct MatchTarget: Hashable, Sendable {
    public var orderID: String
    public var expected: Money

    public init(orderID: String, expected: Money) {
        self.orderID = orderID
        self.expected = expected
    }
}
