import Foundation

/// What a subscriber wants to buy.
public enum OrderItem: Sendable, Equatable {
    case product(String)
    /// A custom top-up amount, within the catalog's range.
    case amount(Money)
}

/// The rules of creating an order, decided from the catalog and the line's currency alone: which product (it must be
/// sold), the list price or custom amount, the promotions that apply (an entered code must unlock one), the price in
/// the currency the subscriber pays in, and the promotion uses the order must take. Pure, so every rule is tested
/// without a database; the store only loads the catalog, executes ``promotionUses`` as conditional updates and
/// writes ``order(id:msisdn:paymentMethod:providerReference:checkoutStarted:now:lifetime:)``.
public struct OrderPlacementPlan: Sendable, Equatable {
    /// The price and what it buys, fixed now for the life of the order.
    public let quote: OrderQuote
    /// One use of each applied promotion that has limits, in the order the quote applies them: taken in the
    /// transaction that creates the order, so a limit reached refuses the order.
    public let promotionUses: [PromotionUse]

    /// `excluding`: automatic promotions the store found used up; the order is placed without them (a subscriber
    /// who did not ask for a promotion is not refused because it ran out). A code the subscriber entered is
    /// refused when used up (``PromotionUse/exhausted``).
    public init(item: OrderItem, lineCurrency: Currency, promotionCode: String?, payCurrency: Currency?, catalog: Catalog,
                at instant: Date, excluding: Set<String> = []) throws(RechargeError) {
        let base: OrderQuote
        var product: Product?
        switch item {
        case .product(let code):
            guard let found = catalog.product(code), found.active else { throw .productNotFound(code) }
            product = found
            base = try OrderQuote.product(found, currency: lineCurrency, lineCurrency: lineCurrency)
        case .amount(let money):
            base = try OrderQuote.customTopUp(money, catalog: catalog, lineCurrency: lineCurrency)
        }
        let choice = try PromotionChoice.choose(from: catalog.promotions, product: product, listPrice: base.price, credit: base.credit,
                                                enteredCode: promotionCode, at: instant, excluding: excluding)
        var quote = try base.applying(choice)
        if let payCurrency { quote = try quote.paid(in: payCurrency, product: product, catalog: catalog, at: instant) }
        self.quote = quote
        promotionUses = choice.applied.filter(\.hasLimits).map(PromotionUse.enforcing)
    }

    /// The new order, `awaiting_payment` when its checkout started in the creating transaction. An order priced at
    /// an exchange rate is payable only while the rate quote holds, so it expires then if that comes first.
    public func order(id: String, msisdn: MSISDN, paymentMethod: PaymentMethod, providerReference: String?, checkoutStarted: Bool,
                      now: Date, lifetime: TimeInterval) -> RechargeOrder {
        RechargeOrder(
            id: id, msisdn: msisdn, quote: quote, paymentMethod: paymentMethod,
            state: checkoutStarted ? .awaitingPayment : .created, providerReference: providerReference,
            failureReason: nil, operationIDs: [], createdAt: now, updatedAt: now,
            expiresAt: min(now.addingTimeInterval(lifetime), quote.fx?.expiresAt ?? .distantFuture),
            paidAt: nil, fulfilledAt: nil, balanceAfter: nil)
    }
}

/// One use of a promotion with limits, as the store must take it: the bounds its conditional updates compare the
/// usage counters with (`used < bound`, so the counter itself stays the one atomic guarantee, across nodes too), and
/// the refusal when a bound is reached.
public struct PromotionUse: Sendable, Equatable {
    /// The promotion's catalog code: the key of its usage counters.
    public let code: String
    /// What the subscriber knows it by in a refusal: the code they entered, or the catalog code.
    public let shownCode: String
    /// Uses allowed overall; `Int64.max` when unlimited or not enforced.
    public let limitTotal: Int64
    /// Uses allowed per line; `Int64.max` when unlimited or not enforced.
    public let limitPerLine: Int64
    /// Applied without a code: when a limit is reached the order goes ahead without it (``exhaustedAutomatic``).
    public let isAutomatic: Bool

    public init(code: String, shownCode: String, limitTotal: Int64, limitPerLine: Int64, isAutomatic: Bool = false) {
        self.code = code
        self.shownCode = shownCode
        self.limitTotal = limitTotal
        self.limitPerLine = limitPerLine
        self.isAutomatic = isAutomatic
    }

    /// An automatic promotion whose limit is reached: the store places the order again without it.
    public struct ExhaustedAutomatic: Error, Sendable, Equatable {
        public let code: String
        public init(code: String) { self.code = code }
    }

    /// What the store throws when a bound is reached: for an automatic promotion, ``ExhaustedAutomatic`` (plan again
    /// excluding it); for an entered code, the refusal.
    public func limitReached(forLine: Bool) -> any Error {
        isAutomatic ? ExhaustedAutomatic(code: code) : (forLine ? exhaustedForLine : exhausted)
    }

    /// A new order: the promotion's limits hold.
    public static func enforcing(_ promotion: Promotion) -> PromotionUse {
        PromotionUse(code: promotion.code, shownCode: promotion.discountCode ?? promotion.code,
                     limitTotal: Int64(promotion.limitTotal ?? Int.max), limitPerLine: Int64(promotion.limitPerLine ?? Int.max),
                     isAutomatic: promotion.discountCode == nil)
    }

    /// A payment that arrived after its order expired or was cancelled (and gave its use back): the subscriber paid
    /// the promoted price, so the use is counted again even past the limits.
    public static func honouring(_ promotion: Promotion) -> PromotionUse {
        PromotionUse(code: promotion.code, shownCode: promotion.discountCode ?? promotion.code, limitTotal: .max, limitPerLine: .max)
    }

    /// The refusal when the overall counter is at ``limitTotal``.
    public var exhausted: RechargeError { .promotionUnavailable(code: shownCode, reason: "it has been used the maximum number of times") }

    /// The refusal when the line's counter is at ``limitPerLine``.
    public var exhaustedForLine: RechargeError {
        .promotionUnavailable(code: shownCode, reason: "this line has already used it the maximum number of times")
    }

    /// For a quote, where nothing is reserved: the refusal an order would meet now, with `used` uses held overall and
    /// `usedByLine` by the line (`nil`: no counter yet), the overall limit first.
    public func refusal(used: Int64?, usedByLine: Int64?) -> RechargeError? {
        if let used, used >= limitTotal { return exhausted }
        if let usedByLine, usedByLine >= limitPerLine { return exhaustedForLine }
        return nil
    }
}
