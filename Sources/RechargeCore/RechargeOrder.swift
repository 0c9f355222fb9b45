import Foundation

/// Where a recharge order is in its life.
public enum OrderState: String, Sendable, Codable, CaseIterable {
    case created
    case awaitingPayment = "awaiting_payment"
    case paid
    case fulfilled
    case failed
    case expired
    case cancelled
    case refunded
    case partiallyRefunded = "partially_refunded"

    /// Money was taken for it (it may since have gone back in part or whole).
    public var isPaidFor: Bool {
        switch self {
        case .created, .awaitingPayment, .failed, .expired, .cancelled: false
        case .paid, .fulfilled, .refunded, .partiallyRefunded: true
        }
    }

    /// No payment can be asked for any more (a late confirmation is still honoured, see ``OrderLifecycle``).
    public var isClosedToPayment: Bool {
        switch self {
        case .created, .awaitingPayment, .failed: false
        case .paid, .fulfilled, .expired, .cancelled, .refunded, .partiallyRefunded: true
        }
    }
}

/// What can happen to an order.
public enum OrderEvent: Sendable, Equatable {
    /// The payment provider accepted the order (a checkout page, QR code or client secret exists).
    case checkoutStarted
    /// A verified confirmation (provider notification or server-side query) that the money was taken.
    case paymentConfirmed
    /// The provider says the payment failed or was declined.
    case paymentFailed
    /// Nothing confirmed the payment in time.
    case expire
    /// The subscriber or an agent gave up on the order.
    case cancel
    /// The ledger transfers were applied.
    case fulfilled
    /// Money went back to the payer: all of what was paid, or a part.
    case refunded(full: Bool)

    var verb: String {
        switch self {
        case .checkoutStarted: "sent to checkout"
        case .paymentConfirmed: "paid"
        case .paymentFailed: "failed"
        case .expire: "expired"
        case .cancel: "cancelled"
        case .fulfilled: "fulfilled"
        case .refunded: "refunded"
        }
    }
}

/// What the caller must do after a transition.
public enum OrderAction: Sendable, Equatable {
    /// Nothing: a duplicate or late event that changes nothing.
    case none
    /// Record the new state.
    case record
    /// Record the payment and apply the ledger transfers, in one transaction.
    case fulfil
    /// Record the failure and tell the subscriber.
    case notifyFailure
}

/// The order's state machine: a value type whose one exhaustive `switch` decides every transition, so
/// duplicate, reordered and late events are answered the same way wherever they come from.
///
/// Money that was really taken is never ignored: a confirmation that arrives after the order expired, was
/// cancelled or was reported failed still fulfils it (the payer is credited what they paid for). Duplicate
/// confirmations change nothing. Anything else that makes no sense is a typed error.
public struct OrderLifecycle: Sendable, Equatable {
    public private(set) var state: OrderState
    public let orderID: String

    public init(orderID: String, state: OrderState) {
        self.orderID = orderID
        self.state = state
    }

    public mutating func handle(_ event: OrderEvent) throws(RechargeError) -> OrderAction {
        switch (state, event) {
        case (.created, .checkoutStarted):
            state = .awaitingPayment
            return .record
        case (.awaitingPayment, .checkoutStarted):
            return .none

        case (.created, .paymentConfirmed), (.awaitingPayment, .paymentConfirmed), (.failed, .paymentConfirmed),
             (.expired, .paymentConfirmed), (.cancelled, .paymentConfirmed):
            state = .paid
            return .fulfil
        case (.paid, .paymentConfirmed), (.fulfilled, .paymentConfirmed), (.refunded, .paymentConfirmed),
             (.partiallyRefunded, .paymentConfirmed):
            return .none

        case (.created, .paymentFailed), (.awaitingPayment, .paymentFailed):
            state = .failed
            return .notifyFailure
        // A failure reported after the money was confirmed, or twice, or for an order nobody waits for.
        case (.failed, .paymentFailed), (.paid, .paymentFailed), (.fulfilled, .paymentFailed), (.refunded, .paymentFailed),
             (.partiallyRefunded, .paymentFailed), (.expired, .paymentFailed), (.cancelled, .paymentFailed):
            return .none

        case (.created, .expire), (.awaitingPayment, .expire):
            state = .expired
            return .record
        case (.expired, .expire):
            return .none

        case (.created, .cancel), (.awaitingPayment, .cancel), (.failed, .cancel):
            state = .cancelled
            return .record
        case (.cancelled, .cancel):
            return .none

        case (.paid, .fulfilled):
            state = .fulfilled
            return .record
        case (.fulfilled, .fulfilled):
            return .none

        case (.fulfilled, .refunded(let full)), (.partiallyRefunded, .refunded(let full)):
            state = full ? .refunded : .partiallyRefunded
            return .record

        // Everything else is named, not defaulted, so a new state or event does not compile until it is decided here.
        case (.paid, .checkoutStarted), (.fulfilled, .checkoutStarted), (.failed, .checkoutStarted), (.expired, .checkoutStarted),
             (.cancelled, .checkoutStarted), (.refunded, .checkoutStarted), (.partiallyRefunded, .checkoutStarted),
             (.paid, .expire), (.fulfilled, .expire), (.failed, .expire), (.cancelled, .expire), (.refunded, .expire),
             (.partiallyRefunded, .expire),
             (.paid, .cancel), (.fulfilled, .cancel), (.expired, .cancel), (.refunded, .cancel), (.partiallyRefunded, .cancel),
             (.created, .fulfilled), (.awaitingPayment, .fulfilled), (.failed, .fulfilled), (.expired, .fulfilled), (.cancelled, .fulfilled),
             (.refunded, .fulfilled), (.partiallyRefunded, .fulfilled),
             (.created, .refunded), (.awaitingPayment, .refunded), (.paid, .refunded), (.failed, .refunded), (.expired, .refunded),
             (.cancelled, .refunded), (.refunded, .refunded):
            throw .illegalOrderTransition(order: orderID, from: state, event: event.verb)
        }
    }
}

/// How the subscriber pays an order.
public enum PaymentMethod: String, Sendable, Codable, CaseIterable {
    /// Built in: a hosted checkout page with Pay and Fail buttons, for trying the whole flow without accounts.
    case sandbox
    case stripe
    case paypal
    case alipay
    case wechatPay = "wechat_pay"
    case bankTransfer = "bank_transfer"

    /// The ledger channel (and so the clearing account) payments by this method are booked against.
    public var channel: Channel {
        switch self {
        case .sandbox: .online
        case .stripe: .card
        case .paypal: .paypal
        case .alipay: .alipay
        case .wechatPay: .wechatPay
        case .bankTransfer: .bankTransfer
        }
    }

    /// The sandbox moves no real money: its orders are test payments, shown as such on every receipt, page and
    /// API answer, and booked apart from real money so no report or bill takes them for revenue.
    public var isTestPayment: Bool { self == .sandbox }

    /// The clearing account a payment by this method is booked against: the channel's, except for test
    /// payments, which have `clearing:sandbox:<unit>` of their own (the sandbox shares the `online` channel
    /// with real online payments, and reconciling that channel must not find money nobody will ever send).
    public func clearingAccount(unit: String) -> String {
        isTestPayment ? LedgerAccountCode.sandboxClearing(unit: unit) : LedgerAccountCode.clearing(channel, unit: unit)
    }

    /// Where the price of a pack or plan bought with this method goes: pack revenue, except for a test payment,
    /// whose price goes back to its clearing account, so revenue only ever holds money that was really paid.
    public func purchaseAccount(unit: String) -> (code: String, kind: LedgerAccountKind) {
        isTestPayment ? (clearingAccount(unit: unit), .clearing) : (LedgerAccountCode.packRevenue(unit: unit), .revenue)
    }
}

extension LedgerAccountCode {
    /// Every sandbox account's code starts with this: what reports leave out of revenue and real clearing.
    public static let sandboxClearingPrefix = "clearing:sandbox:"
    /// What test payments through the built-in sandbox owe: money that will never arrive.
    public static func sandboxClearing(unit: String) -> String { sandboxClearingPrefix + unit }
}

/// What an order will do, fixed when the order is created, so a later catalog change cannot alter it:
/// what the payer pays, and what the line receives.
public struct OrderQuote: Sendable, Equatable, Codable {
    public struct Allowance: Sendable, Equatable, Codable {
        public let kind: BucketKind
        public let amount: Int64
    }

    /// Nil for a custom-amount top-up.
    public let productCode: String?
    public let productKind: Product.Kind
    /// Display names per language, copied from the product (or made up for a custom amount).
    public let names: [String: String]
    /// What the payer pays: whole minor units of its currency (the list price less any discount).
    public let price: Money
    /// The catalog price before promotions.
    public let listPrice: Money
    public let discount: Money?
    /// Money for the line's main balance (top-ups).
    public let credit: Money?
    /// Bonus money granted in its own bucket, valid `bonusValidityDays`.
    public let bonus: Money?
    public let bonusValidityDays: Int?
    public let allowances: [Allowance]
    public let validityDays: Int?
    /// A travel pack's countries (ISO 3166 alpha-2): its allowances are drawn only there (``BucketGrant/coverage``).
    public let coverage: [String]?
    /// Codes of the promotions applied; those with usage limits hold one use each while the order lives.
    public let promotions: [String]
    /// The subset of `promotions` whose use is counted against a limit.
    public let limitedPromotions: [String]
    /// What the ledger books for the payment, in the line's currency, when the payer pays in another one
    /// (`price` is then in the payer's currency); nil when they are the same.
    public let settlement: Money?
    /// The exchange rate used, when the price was converted (not when the product has its own price there).
    public let fx: FXQuote?
    /// A pack the catalog marks to renew: at the end of each period it is bought again from the line's balance.
    public let autoRenew: Bool?
    /// Buckets a promotion grants with this order (bonus data, minutes, SMS), each with its own validity: granted in
    /// the fulfilment's ledger transaction, funded by the allowance accounts like a pack's.
    public let bonusAllowances: [BonusAllowance]?
    /// The display names, per language, of the promotion that grants ``bonusAllowances`` (what the bucket is called).
    public let bonusNames: [String: String]?

    /// The payment in the line's currency: what the ledger moves.
    public var settlementAmount: Money { settlement ?? price }

    public init(productCode: String?, productKind: Product.Kind, names: [String: String], price: Money, credit: Money?, allowances: [Allowance],
                validityDays: Int?, listPrice: Money? = nil, discount: Money? = nil, bonus: Money? = nil, bonusValidityDays: Int? = nil,
                promotions: [String] = [], limitedPromotions: [String] = [], settlement: Money? = nil, fx: FXQuote? = nil, autoRenew: Bool? = nil,
                bonusAllowances: [BonusAllowance]? = nil, bonusNames: [String: String]? = nil, coverage: [String]? = nil) {
        self.coverage = coverage
        self.bonusAllowances = bonusAllowances
        self.bonusNames = bonusNames
        self.productCode = productCode
        self.productKind = productKind
        self.names = names
        self.price = price
        self.listPrice = listPrice ?? price
        self.discount = discount
        self.credit = credit
        self.bonus = bonus
        self.bonusValidityDays = bonusValidityDays
        self.allowances = allowances
        self.validityDays = validityDays
        self.promotions = promotions
        self.limitedPromotions = limitedPromotions
        self.settlement = settlement
        self.fx = fx
        self.autoRenew = autoRenew
    }

    /// This quote paid in `currency`: the product's own price there (top-ups without a discount), else the
    /// line-currency price converted at the catalog's rate, which the quote keeps with its source and expiry.
    public func paid(in currency: Currency, product: Product?, catalog: Catalog, at instant: Date) throws(RechargeError) -> OrderQuote {
        guard currency != price.currency else { return self }
        var converted: Money
        var fx: FXQuote?
        if let own = product?.price(in: currency), discount == nil {
            converted = own
        } else if let rate = catalog.exchangeRate(from: price.currency, to: currency) {
            converted = try rate.convert(price)
            fx = FXQuote(base: rate.base.code, quote: rate.quote.code, rate: rate.definition.rate, source: rate.source,
                         expiresAt: instant.addingTimeInterval(TimeInterval(rate.validMinutes) * 60))
        } else {
            throw .invalidRequest("There is no price or exchange rate for paying in \(currency.code); pay in \(price.currency.code).")
        }
        return OrderQuote(productCode: productCode, productKind: productKind, names: names, price: converted, credit: credit, allowances: allowances,
                          validityDays: validityDays, listPrice: listPrice, discount: discount, bonus: bonus, bonusValidityDays: bonusValidityDays,
                          promotions: promotions, limitedPromotions: limitedPromotions, settlement: price, fx: fx, autoRenew: autoRenew,
                          bonusAllowances: bonusAllowances, bonusNames: bonusNames, coverage: coverage)
    }

    /// This quote with the chosen promotions applied.
    public func applying(_ choice: PromotionChoice) throws(RechargeError) -> OrderQuote {
        var price = self.price
        if let discount = choice.discount { price = try price.subtracting(discount.amount) }
        var bonusDays: Int?
        if let bonus = choice.bonus, case .topUpBonus(_, let days) = bonus.promotion.benefit { bonusDays = days }
        let applied = choice.applied
        return OrderQuote(
            productCode: productCode, productKind: productKind, names: names, price: price, credit: credit, allowances: allowances,
            validityDays: validityDays, listPrice: listPrice, discount: choice.discount?.amount, bonus: choice.bonus?.amount,
            bonusValidityDays: bonusDays, promotions: applied.map(\.code), limitedPromotions: applied.filter(\.hasLimits).map(\.code),
            settlement: settlement, fx: fx, autoRenew: autoRenew, bonusAllowances: choice.bucketBonus?.grants,
            bonusNames: choice.bucketBonus?.promotion.names, coverage: coverage)
    }

    /// A quote for a catalog product, paid in `currency` for a line in `lineCurrency`.
    public static func product(_ product: Product, currency: Currency, lineCurrency: Currency) throws(RechargeError) -> OrderQuote {
        guard product.active else { throw .productNotFound(product.code) }
        guard let price = product.price(in: currency) else {
            throw .invalidRequest("Product '\(product.code)' has no price in \(currency.code).")
        }
        switch product.kind {
        case .topUp:
            guard let credit = product.credit, credit.currency == lineCurrency else {
                throw .currencyMismatch(expected: lineCurrency.code, got: product.credit?.currency.code ?? "?")
            }
            return OrderQuote(productCode: product.code, productKind: .topUp, names: product.names, price: price, credit: credit,
                              allowances: [], validityDays: nil)
        case .pack:
            return OrderQuote(productCode: product.code, productKind: .pack, names: product.names, price: price, credit: nil,
                              allowances: product.allowances.map { Allowance(kind: $0.kind, amount: $0.amount) },
                              validityDays: product.validityDays, autoRenew: product.autoRenew && product.validityDays != nil ? true : nil,
                              coverage: product.coverage?.countries)
        case .plan:
            throw .invalidRequest("Plan '\(product.code)' is subscribed to, not bought as an order.")
        }
    }

    /// A quote for a custom amount: the payer pays exactly what the line is credited.
    public static func customTopUp(_ amount: Money, catalog: Catalog, lineCurrency: Currency) throws(RechargeError) -> OrderQuote {
        guard amount.currency == lineCurrency else { throw .currencyMismatch(expected: lineCurrency.code, got: amount.currency.code) }
        guard let range = catalog.customTopUp[amount.currency] else {
            throw .invalidRequest("Custom top-up amounts are not offered in \(amount.currency.code); choose a product.")
        }
        guard range.contains(amount.micros) else {
            throw .invalidAmount(amount.decimalString, reason: "custom top-ups must be from \(Money(micros: range.lowerBound, currency: amount.currency).decimalString) to \(Money(micros: range.upperBound, currency: amount.currency).decimalString)")
        }
        guard amount.micros % amount.currency.microsPerMinorUnit == 0 else {
            throw .invalidAmount(amount.decimalString, reason: "payments are made in whole minor units of \(amount.currency.code)")
        }
        return OrderQuote(productCode: nil, productKind: .topUp,
                          names: ["en": "Top-up \(amount.decimalString) \(amount.currency.code)", "zh-Hans": "充值 \(amount.decimalString) \(amount.currency.code)"],
                          price: amount, credit: amount, allowances: [], validityDays: nil)
    }
}

/// A recharge order as stored: who, what, how it is paid, and where it is in its life.
public struct RechargeOrder: Sendable, Equatable {
    /// Public id: `ord_` and 24 random base-32 characters; never guessable from another order's id.
    public let id: String
    public let msisdn: MSISDN
    public let quote: OrderQuote
    public let paymentMethod: PaymentMethod
    public let state: OrderState
    /// The provider's id for the payment (a PaymentIntent, a trade number …), once checkout started.
    public let providerReference: String?
    public let failureReason: String?
    /// Ledger operations that fulfilled it.
    public let operationIDs: [Int64]
    public let createdAt: Date
    public let updatedAt: Date
    public let expiresAt: Date
    public let paidAt: Date?
    public let fulfilledAt: Date?
    /// The line's monetary balance right after fulfilment (for the receipt).
    public let balanceAfter: Money?
    /// What the provider gave the payer to act on when checkout started, kept so it can be shown again without
    /// asking the provider: a wallet's QR content (Alipay's `qr_code`, WeChat Pay's `code_url`). Nil otherwise.
    public let checkoutPayload: String?

    /// Paid (or to be paid) through the sandbox: no real money moved.
    public var isTestPayment: Bool { paymentMethod.isTestPayment }

    public init(id: String, msisdn: MSISDN, quote: OrderQuote, paymentMethod: PaymentMethod, state: OrderState, providerReference: String?,
                failureReason: String?, operationIDs: [Int64], createdAt: Date, updatedAt: Date, expiresAt: Date, paidAt: Date?, fulfilledAt: Date?,
                balanceAfter: Money?, checkoutPayload: String? = nil) {
        self.id = id
        self.msisdn = msisdn
        self.quote = quote
        self.paymentMethod = paymentMethod
        self.state = state
        self.providerReference = providerReference
        self.failureReason = failureReason
        self.operationIDs = operationIDs
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.expiresAt = expiresAt
        self.paidAt = paidAt
        self.fulfilledAt = fulfilledAt
        self.balanceAfter = balanceAfter
        self.checkoutPayload = checkoutPayload
    }

    /// A new order id from a random source (injected, so tests can fix it).
    public static func newID(using generator: inout some RandomNumberGenerator) -> String {
        let alphabet = Array("abcdefghijkmnpqrstuvwxyz23456789".utf8)
        var id = "ord_"
        for _ in 0..<24 { id.append(Character(UnicodeScalar(alphabet[Int(generator.next() % UInt64(alphabet.count))]))) }
        return id
    }

    /// Checks an id's form before it reaches a query.
    public static func isWellFormedID(_ text: String) -> Bool {
        text.utf8.count == 28 && text.hasPrefix("ord_") && text.utf8.dropFirst(4).allSatisfy { ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x32 && $0 <= 0x39) }
    }
}

/// A payment provider's verdict on an order, from a verified notification or a status query.
public struct PaymentConfirmation: Sendable, Equatable {
    public enum Outcome: String, Sendable, Equatable { case succeeded, failed }
    public let provider: PaymentMethod
    /// The provider's id for this notification (Stripe event id, Alipay notify_id …); each is handled once.
    public let eventID: String
    public let orderID: String
    public let outcome: Outcome
    /// What the provider says was paid; must equal the order's price.
    public let amount: Money
    public let providerReference: String?
    public let failureReason: String?

    public init(provider: PaymentMethod, eventID: String, orderID: String, outcome: Outcome, amount: Money, providerReference: String?, failureReason: String?) {
        self.provider = provider
        self.eventID = eventID
        self.orderID = orderID
        self.outcome = outcome
        self.amount = amount
        self.providerReference = providerReference
        self.failureReason = failureReason
    }
}

/// Money given back on a fulfilled order, through the provider that took it.
public struct OrderRefund: Sendable, Equatable {
    public enum State: String, Sendable, Codable { case pending, succeeded, failed }
    /// `rf_` and 24 random characters.
    public let id: String
    public let orderID: String
    public let amount: Money
    public let state: State
    public let reason: String
    public let providerReference: String?
    /// The ledger debit that took the amount off the line.
    public let operationID: Int64?
    public let balanceAfter: Money?
    public let createdAt: Date
    public let updatedAt: Date

    public init(id: String, orderID: String, amount: Money, state: State, reason: String, providerReference: String?, operationID: Int64?,
                balanceAfter: Money?, createdAt: Date, updatedAt: Date) {
        self.id = id
        self.orderID = orderID
        self.amount = amount
        self.state = state
        self.reason = reason
        self.providerReference = providerReference
        self.operationID = operationID
        self.balanceAfter = balanceAfter
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

/// A payment dispute (chargeback) as the provider reports it: opened for an amount, or closed, won or lost.
public enum DisputeEvent: Sendable, Equatable {
    case opened(amount: Money)
    case closed(won: Bool)
}
