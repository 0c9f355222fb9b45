/// Every way a request can be refused by the domain. Each case carries the values involved, a stable
/// machine-readable ``code`` (used as the problem type in the API) and a human ``detail``.
public enum RechargeError: Error, Equatable, Sendable, Codable, CustomStringConvertible {
    // Input that is wrong on its face.
    case invalidRequest(String)
    case unknownCurrency(String)
    case invalidAmount(String, reason: String)
    case nonPositiveAmount(String)
    case amountOverflow
    case currencyMismatch(expected: String, got: String)
    case invalidMSISDN(String, reason: String)
    case invalidICCID(String, reason: String)
    case invalidCursor
    case missingIdempotencyKey
    case invalidIdempotencyKey(String)

    // Requests that conflict with what is stored.
    case lineNotFound(String)
    case lineAlreadyExists(String)
    case iccidInUse(String)
    case illegalLineTransition(msisdn: String, from: LineStatus, to: LineStatus)
    case lineNotActive(msisdn: String, status: LineStatus)
    case insufficientBalance(msisdn: String, unit: String, available: Int64, requested: Int64)
    case idempotencyKeyReused(String)

    // Catalog, orders and payments.
    case invalidCatalog(String)
    case productNotFound(String)
    case orderNotFound(String)
    case illegalOrderTransition(order: String, from: OrderState, event: String)
    case paymentMethodUnavailable(String)
    case paymentNotVerified(provider: String, reason: String)
    case paymentMismatch(order: String, reason: String)
    case promotionUnavailable(code: String, reason: String)

    /// A stable slug naming the kind of failure (`https://recharge.dev/problems/<code>`).
    public var code: String {
        switch self {
        case .invalidRequest: "invalid-request"
        case .unknownCurrency: "unknown-currency"
        case .invalidAmount: "invalid-amount"
        case .nonPositiveAmount: "non-positive-amount"
        case .amountOverflow: "amount-overflow"
        case .currencyMismatch: "currency-mismatch"
        case .invalidMSISDN: "invalid-msisdn"
        case .invalidICCID: "invalid-iccid"
        case .invalidCursor: "invalid-cursor"
        case .missingIdempotencyKey: "missing-idempotency-key"
        case .invalidIdempotencyKey: "invalid-idempotency-key"
        case .lineNotFound: "line-not-found"
        case .lineAlreadyExists: "line-already-exists"
        case .iccidInUse: "iccid-in-use"
        case .illegalLineTransition: "illegal-line-transition"
        case .lineNotActive: "line-not-active"
        case .insufficientBalance: "insufficient-balance"
        case .idempotencyKeyReused: "idempotency-key-reused"
        case .invalidCatalog: "invalid-catalog"
        case .productNotFound: "product-not-found"
        case .orderNotFound: "order-not-found"
        case .illegalOrderTransition: "illegal-order-transition"
        case .paymentMethodUnavailable: "payment-method-unavailable"
        case .paymentNotVerified: "payment-not-verified"
        case .paymentMismatch: "payment-mismatch"
        case .promotionUnavailable: "promotion-unavailable"
        }
    }

    /// A short summary of the kind of failure, the same for every occurrence.
    public var title: String {
        switch self {
        case .invalidRequest: "The request is not valid"
        case .unknownCurrency: "Unknown currency"
        case .invalidAmount: "Invalid amount"
        case .nonPositiveAmount: "Amount must be positive"
        case .amountOverflow: "Amount out of range"
        case .currencyMismatch: "Currency does not match"
        case .invalidMSISDN: "Invalid phone number"
        case .invalidICCID: "Invalid ICCID"
        case .invalidCursor: "Invalid pagination cursor"
        case .missingIdempotencyKey: "Idempotency-Key header required"
        case .invalidIdempotencyKey: "Invalid Idempotency-Key"
        case .lineNotFound: "Line not found"
        case .lineAlreadyExists: "Line already exists"
        case .iccidInUse: "ICCID already in use"
        case .illegalLineTransition: "Line status change not allowed"
        case .lineNotActive: "Line is not active"
        case .insufficientBalance: "Insufficient balance"
        case .idempotencyKeyReused: "Idempotency-Key reused with a different request"
        case .invalidCatalog: "Invalid catalog"
        case .productNotFound: "Product not found"
        case .orderNotFound: "Order not found"
        case .illegalOrderTransition: "Order state change not allowed"
        case .paymentMethodUnavailable: "Payment method not available"
        case .paymentNotVerified: "Payment notification not verified"
        case .paymentMismatch: "Payment does not match the order"
        case .promotionUnavailable: "Promotion not available"
        }
    }

    /// What happened in this occurrence, with the values involved.
    public var detail: String {
        switch self {
        case .invalidRequest(let message): message
        case .unknownCurrency(let code): "'\(code)' is not a supported ISO 4217 currency code."
        case .invalidAmount(let text, let reason): "Amount '\(text)' is invalid: \(reason)."
        case .nonPositiveAmount(let text): "Amount '\(text)' must be greater than zero."
        case .amountOverflow: "The amount is too large to be represented exactly."
        case .currencyMismatch(let expected, let got): "The line is in \(expected); the amount is in \(got)."
        case .invalidMSISDN(let text, let reason): "'\(text)' is not a valid E.164 phone number: \(reason)."
        case .invalidICCID(let text, let reason): "'\(text)' is not a valid ICCID: \(reason)."
        case .invalidCursor: "The cursor is malformed or was not issued by this server."
        case .missingIdempotencyKey: "Requests that move value must carry an Idempotency-Key header."
        case .invalidIdempotencyKey(let reason): "The Idempotency-Key is invalid: \(reason)."
        case .lineNotFound(let msisdn): "No line with number \(msisdn)."
        case .lineAlreadyExists(let msisdn): "A line with number \(msisdn) already exists."
        case .iccidInUse(let iccid): "ICCID \(iccid) is already assigned to another line."
        case .illegalLineTransition(let msisdn, let from, let to):
            "Line \(msisdn) cannot go from \(from.rawValue) to \(to.rawValue)."
        case .lineNotActive(let msisdn, let status): "Line \(msisdn) is \(status.rawValue)."
        case .insufficientBalance(let msisdn, let unit, let available, let requested):
            "Line \(msisdn) has \(Self.quantity(available, unit)) available; \(Self.quantity(requested, unit)) requested."
        case .idempotencyKeyReused(let key): "Idempotency-Key '\(key)' was already used for a different request."
        case .invalidCatalog(let reason): "The catalog is invalid: \(reason)."
        case .productNotFound(let code): "No active product with code '\(code)'."
        case .orderNotFound(let id): "No order \(id)."
        case .illegalOrderTransition(let order, let from, let event): "Order \(order) is \(from.rawValue) and cannot be \(event)."
        case .paymentMethodUnavailable(let method): "Payment method '\(method)' is not offered by this server."
        case .paymentNotVerified(let provider, let reason): "The \(provider) notification was rejected: \(reason)."
        case .paymentMismatch(let order, let reason): "The payment does not match order \(order): \(reason)."
        case .promotionUnavailable(let code, let reason): "Promotion code \(code) cannot be used: \(reason)."
        }
    }

    public var description: String { "\(code): \(detail)" }

    /// `1.20 USD` for money (stored in micro-units), `1048576 BYTES` for anything else.
    static func quantity(_ amount: Int64, _ unit: String) -> String {
        guard let currency = try? Currency(code: unit) else { return "\(amount) \(unit)" }
        return Money(micros: amount, currency: currency).description
    }
}
