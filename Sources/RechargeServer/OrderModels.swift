import Foundation
import RechargeCore
import RechargeStore

/// `POST /v1/lines/{msisdn}/orders`: a product by code, or a custom amount; and how it will be paid.
struct CreateOrderRequest: StrictlyDecodable {
    let product: String?
    let amount: MoneyInput?
    let paymentMethod: PaymentMethod
    let promotionCode: String?
    /// The payer's currency, when not the line's: the product's own price there, or the catalog's exchange rate.
    let currency: String?
    /// Stripe only: `payment_intent` (default; a client secret for Stripe.js) or `checkout_session` (Stripe's
    /// hosted page: a redirect URL).
    let stripeCheckout: String?

    static let allowedFields: [String: Set<String>] = [
        "": ["product", "amount", "paymentMethod", "promotionCode", "currency", "stripeCheckout"],
        "amount": MoneyInput.fields,
    ]

    func payCurrency() throws(RechargeError) -> Currency? { try currency.map { code throws(RechargeError) in try Currency(code: code) } }

    /// True for a Stripe Checkout Session; refuses values other than the two, and the field on other methods.
    func wantsStripeSession() throws(RechargeError) -> Bool {
        switch stripeCheckout {
        case nil, "payment_intent": return false
        case "checkout_session":
            guard paymentMethod == .stripe else { throw .invalidRequest("'stripeCheckout' applies to paymentMethod stripe only.") }
            return true
        case let other?: throw .invalidRequest("'stripeCheckout' is payment_intent or checkout_session, not '\(other)'.")
        }
    }

    func item() throws(RechargeError) -> OrderStore.Item {
        switch (product, amount) {
        case (let code?, nil): return .product(code)
        case (nil, let amount?): return .amount(try amount.money())
        default: throw .invalidRequest("Give either 'product' (a catalog code) or 'amount', not both and not neither.")
        }
    }
}

/// `POST /v1/lines/{msisdn}/quotes`: the price of a product or amount with a promotion code, before ordering.
struct QuoteRequest: StrictlyDecodable {
    let product: String?
    let amount: MoneyInput?
    let promotionCode: String?
    let currency: String?

    static let allowedFields: [String: Set<String>] = [
        "": ["product", "amount", "promotionCode", "currency"],
        "amount": MoneyInput.fields,
    ]

    func item() throws(RechargeError) -> OrderStore.Item {
        try CreateOrderRequest(product: product, amount: amount, paymentMethod: .sandbox, promotionCode: nil, currency: nil, stripeCheckout: nil).item()
    }
}

struct QuoteOutput: Encodable {
    let product: String?
    let kind: Product.Kind
    let names: [String: String]
    let listPrice: MoneyOutput
    let discount: MoneyOutput?
    let price: MoneyOutput
    let credit: MoneyOutput?
    let bonus: MoneyOutput?
    let bonusValidityDays: Int?
    let allowances: [AllowanceOutput]
    /// Buckets a promotion grants with the order (bonus data, minutes, SMS), each with its own validity.
    let bonusAllowances: [BonusAllowance]?
    let validityDays: Int?
    let promotions: [String]
    let settlement: MoneyOutput?
    let fx: FXQuoteOutput?
    /// The payment methods an order of this quote can use on this server (the sandbox only when it is on).
    let paymentMethods: [PaymentMethod]

    init(_ quote: OrderQuote, paymentMethods: [PaymentMethod]) {
        self.paymentMethods = paymentMethods
        product = quote.productCode
        kind = quote.productKind
        names = quote.names
        listPrice = MoneyOutput(quote.listPrice)
        discount = quote.discount.map(MoneyOutput.init)
        price = MoneyOutput(quote.price)
        credit = quote.credit.map(MoneyOutput.init)
        bonus = quote.bonus.map(MoneyOutput.init)
        bonusValidityDays = quote.bonusValidityDays
        allowances = quote.allowances.map { AllowanceOutput(kind: $0.kind, amount: $0.amount, unit: $0.kind.unit(currency: quote.price.currency)) }
        bonusAllowances = quote.bonusAllowances
        validityDays = quote.validityDays
        promotions = quote.promotions
        settlement = quote.settlement.map(MoneyOutput.init)
        fx = quote.fx.map(FXQuoteOutput.init)
    }
}

/// The exchange rate an order was priced at: 1 `base` costs `rate` `quote`, from `source`, until `expiresAt`.
struct FXQuoteOutput: Encodable {
    let base: String
    let quote: String
    let rate: String
    let source: String
    let expiresAt: String

    init(_ fx: FXQuote) {
        base = fx.base
        quote = fx.quote
        rate = fx.rate
        source = fx.source
        expiresAt = RFC3339.format(fx.expiresAt)
    }
}

/// What the client must show the payer to pay an order.
struct CheckoutOutput: Encodable {
    /// `redirect`: send the browser to `url` (the sandbox page, PayPal's approval page); `bank_transfer`: show the
    /// account and the reference to write on the transfer; `client_secret`: hand `clientSecret` to Stripe.js;
    /// `qr_code`: show `qrCode` as a QR code.
    let type: String
    let url: String?
    let reference: String?
    let account: String?
    let accountName: String?
    let bankName: String?
    /// `client_secret`: the PaymentIntent's secret, for Stripe.js / Elements in the payer's browser.
    let clientSecret: String?
    /// `qr_code`: what the QR code must contain (Alipay's `qr_code`, WeChat Pay's `code_url`), for the wallet app to scan.
    let qrCode: String?
}

struct AllowanceOutput: Encodable {
    let kind: BucketKind
    let amount: Int64
    let unit: String
}

struct OrderOutput: Encodable {
    let id: String
    let msisdn: String
    let state: OrderState
    let paymentMethod: PaymentMethod
    /// True for the sandbox: no real money moved (and none was booked as revenue).
    let testPayment: Bool
    let product: String?
    let kind: Product.Kind
    let names: [String: String]
    let price: MoneyOutput
    let listPrice: MoneyOutput
    let discount: MoneyOutput?
    let credit: MoneyOutput?
    let bonus: MoneyOutput?
    let bonusValidityDays: Int?
    let promotions: [String]
    let settlement: MoneyOutput?
    let fx: FXQuoteOutput?
    let allowances: [AllowanceOutput]
    let bonusAllowances: [BonusAllowance]?
    let validityDays: Int?
    let providerReference: String?
    let failureReason: String?
    let createdAt: String
    let expiresAt: String
    let paidAt: String?
    let fulfilledAt: String?
    let balanceAfter: MoneyOutput?
    let checkout: CheckoutOutput?

    init(_ order: RechargeOrder, checkout: CheckoutOutput? = nil) {
        id = order.id
        msisdn = order.msisdn.e164
        state = order.state
        paymentMethod = order.paymentMethod
        testPayment = order.isTestPayment
        product = order.quote.productCode
        kind = order.quote.productKind
        names = order.quote.names
        price = MoneyOutput(order.quote.price)
        listPrice = MoneyOutput(order.quote.listPrice)
        discount = order.quote.discount.map(MoneyOutput.init)
        credit = order.quote.credit.map(MoneyOutput.init)
        bonus = order.quote.bonus.map(MoneyOutput.init)
        bonusValidityDays = order.quote.bonusValidityDays
        promotions = order.quote.promotions
        settlement = order.quote.settlement.map(MoneyOutput.init)
        fx = order.quote.fx.map(FXQuoteOutput.init)
        allowances = order.quote.allowances.map { AllowanceOutput(kind: $0.kind, amount: $0.amount, unit: $0.kind.unit(currency: order.quote.price.currency)) }
        bonusAllowances = order.quote.bonusAllowances
        validityDays = order.quote.validityDays
        providerReference = order.providerReference
        failureReason = order.failureReason
        createdAt = RFC3339.format(order.createdAt)
        expiresAt = RFC3339.format(order.expiresAt)
        paidAt = order.paidAt.map(RFC3339.format)
        fulfilledAt = order.fulfilledAt.map(RFC3339.format)
        balanceAfter = order.balanceAfter.map(MoneyOutput.init)
        self.checkout = checkout
    }
}

struct OrderListOutput: Encodable {
    let items: [OrderOutput]
}

/// A fulfilled order's receipt: what was bought, paid and granted, and the balance right after.
struct ReceiptOutput: Encodable {
    let receiptNumber: String
    let order: String
    let msisdn: String
    let description: [String: String]
    let paymentMethod: PaymentMethod
    /// True for the sandbox: a test receipt, for no real money.
    let testPayment: Bool
    let providerReference: String?
    let paid: MoneyOutput
    let listPrice: MoneyOutput
    let discount: MoneyOutput?
    let credited: MoneyOutput?
    let bonus: MoneyOutput?
    let promotions: [String]
    let allowances: [AllowanceOutput]
    /// Buckets a promotion granted with the order (bonus data, minutes, SMS), each with its own validity.
    let bonusAllowances: [BonusAllowance]?
    let validityDays: Int?
    let balanceAfter: MoneyOutput?
    let paidAt: String?
    let fulfilledAt: String?
    let state: OrderState

    init(_ order: RechargeOrder) {
        receiptNumber = "R-" + order.id.dropFirst(4).uppercased()
        self.order = order.id
        msisdn = order.msisdn.e164
        description = order.quote.names
        paymentMethod = order.paymentMethod
        testPayment = order.isTestPayment
        providerReference = order.providerReference
        paid = MoneyOutput(order.quote.price)
        listPrice = MoneyOutput(order.quote.listPrice)
        discount = order.quote.discount.map(MoneyOutput.init)
        credited = order.quote.credit.map(MoneyOutput.init)
        bonus = order.quote.bonus.map(MoneyOutput.init)
        promotions = order.quote.promotions
        let output = OrderOutput(order)
        allowances = output.allowances
        bonusAllowances = order.quote.bonusAllowances
        validityDays = order.quote.validityDays
        balanceAfter = order.balanceAfter.map(MoneyOutput.init)
        paidAt = output.paidAt
        fulfilledAt = output.fulfilledAt
        state = order.state
    }
}

/// `GET /v1/catalog` and the body of `PUT /v1/catalog`: the catalog file's own shape.
extension CatalogDefinition: StrictlyDecodable {
    static let allowedFields: [String: Set<String>] = [
        "": ["customTopUp", "products", "promotions", "fxRates", "timeZone", "rating"],
        "rating": ["currency", "homeCountries", "freeNumbers", "zones", "tariffs", "quota"],
        "rating.zones": ["name", "countries", "networks"],
        "rating.tariffs": ["code", "service", "destinations", "zone", "anywhere", "hours", "weekdays", "price", "per", "increments", "setupFee", "minimum"],
        "rating.quota": ["voiceSeconds", "dataBytes", "smsCount", "otherUnits", "validitySeconds", "graceSeconds"],
        "fxRates": ["base", "quote", "rate", "source", "validMinutes"],
        "promotions": ["code", "names", "name", "descriptions", "description", "currency", "tiers", "bonusValidityDays", "percentOff", "amountOff",
                       "products", "discountCode", "limitTotal", "limitPerLine", "startsAt", "endsAt", "listed", "discountOn", "minTopUp",
                       "bonusAllowances"],
        "promotions.tiers": ["min", "bonus"],
        "promotions.bonusAllowances": ["kind", "amount", "validityDays", "coverage"],
        "promotions.bonusAllowances.coverage": ["name", "countries"],
        "products": ["code", "kind", "names", "name", "descriptions", "description", "prices", "credit", "allowances", "validityDays", "coverage",
                     "autoRenew", "plan", "active"],
        "products.allowances": ["kind", "amount"],
        "products.coverage": ["name", "countries"],
        "products.plan": ["billing", "overagePerMegabyte", "overagePerMinute", "overagePerSMS"],
    ]
}

/// `POST /v1/orders/{id}/refunds`: all that is refundable (no `amount`) or part of it, and why.
struct RefundRequest: StrictlyDecodable {
    let amount: MoneyInput?
    let reason: String

    static let allowedFields: [String: Set<String>] = ["": ["amount", "reason"], "amount": MoneyInput.fields]
}

struct RefundOutput: Encodable {
    let id: String
    let order: String
    let amount: MoneyOutput
    let state: OrderRefund.State
    let reason: String
    let providerReference: String?
    let balanceAfter: MoneyOutput?
    let createdAt: String

    init(_ refund: OrderRefund) {
        id = refund.id
        order = refund.orderID
        amount = MoneyOutput(refund.amount)
        state = refund.state
        reason = refund.reason
        providerReference = refund.providerReference
        balanceAfter = refund.balanceAfter.map(MoneyOutput.init)
        createdAt = RFC3339.format(refund.createdAt)
    }
}

struct RefundListOutput: Encodable {
    let items: [RefundOutput]
}

struct RenewalOutput: Encodable {
    let id: String
    let order: String
    let product: String
    let name: String
    let renewals: Int
    let validUntil: String
    let state: String
    let failure: String?

    init(_ renewal: PackRenewalStore.Renewal) {
        id = renewal.id
        order = renewal.orderID
        product = renewal.productCode
        name = renewal.name
        renewals = renewal.cycle
        validUntil = RFC3339.format(renewal.validUntil)
        state = renewal.state.rawValue
        failure = renewal.failure?.rawValue
    }
}

struct RenewalListOutput: Encodable {
    let items: [RenewalOutput]
}
