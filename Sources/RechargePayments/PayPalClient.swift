import AsyncHTTPClient
import Foundation

/// The PayPal REST calls a recharge order needs: Orders v2 (create, read, capture), refunds of a capture,
/// and the webhook verify API.
///
/// Authentication is OAuth 2 client credentials (`POST /v1/oauth2/token` with HTTP Basic), the access token
/// kept until a minute before it expires and fetched again after a 401. Every POST that creates something
/// carries `PayPal-Request-Id` (derive it from the order or refund id), so a retry after a timeout or a crash
/// returns the first answer instead of making a second order, capture or refund. The `HTTPClient` is the
/// caller's.
public struct PayPalClient: Sendable {
    public struct Configuration: Sendable, CustomStringConvertible {
        public static let liveURL = "https://api-m.paypal.com"
        public static let sandboxURL = "https://api-m.sandbox.paypal.com"

        /// `https://api-m.paypal.com`, `https://api-m.sandbox.paypal.com`, or a stand-in gateway.
        public var baseURL: String
        public var clientID: String
        public var clientSecret: String
        public var requestTimeout: Duration
        /// Shown on PayPal's approval page.
        public var brandName: String?

        public init(clientID: String, clientSecret: String, baseURL: String = Configuration.liveURL,
                    requestTimeout: Duration = .seconds(30), brandName: String? = nil) {
            self.clientID = clientID
            self.clientSecret = clientSecret
            self.baseURL = baseURL
            self.requestTimeout = requestTimeout
            self.brandName = brandName
        }

        /// Where the payer approves an order: PayPal's checkout page for its API hosts, the stand-in's own otherwise.
        public func approvalURL(token: String) -> String {
            let encoded = FormURLEncoding.encodeComponent(token)
            switch baseURL {
            case Self.liveURL, "https://api.paypal.com": return "https://www.paypal.com/checkoutnow?token=\(encoded)"
            case Self.sandboxURL, "https://api.sandbox.paypal.com": return "https://www.sandbox.paypal.com/checkoutnow?token=\(encoded)"
            default: return ProviderHTTPTransport.join(baseURL, "/checkoutnow?token=\(encoded)")
            }
        }

        /// `scheme://host[:port]` of the base URL: the one origin besides PayPal's own hosts trusted to serve
        /// webhook certificates (a stand-in gateway's).
        public var origin: String? {
            guard let url = URLComponents(string: baseURL), let scheme = url.scheme?.lowercased(), let host = url.host?.lowercased() else { return nil }
            return "\(scheme)://\(host)" + (url.port.map { ":\($0)" } ?? "")
        }

        public var description: String {
            "PayPalClient.Configuration(baseURL: \(baseURL), clientID: \(clientID), clientSecret: [redacted], requestTimeout: \(requestTimeout))"
        }
    }

    public let configuration: Configuration
    private let httpClient: HTTPClient
    private let tokens: TokenStore

    public init(configuration: Configuration, httpClient: HTTPClient) {
        self.configuration = configuration
        self.httpClient = httpClient
        self.tokens = TokenStore()
    }

    /// `POST /v2/checkout/orders` with intent `CAPTURE`: our order id as `reference_id`, `custom_id` and
    /// `invoice_id` (PayPal refuses a second order with the same invoice id), the amount in the currency's own
    /// decimals, and the payer's way back (`return_url`, `cancel_url`). The answer's `payer-action` link is
    /// where the payer approves it.
    public func createOrder(
        orderID: String, amountMinorUnits: Int64, currency: String, fractionDigits: Int, description: String,
        returnURL: String, cancelURL: String, locale: String? = nil, requestID: String
    ) async throws(PayPalAPIError) -> PayPalOrder {
        let body = CreateOrderBody(
            intent: "CAPTURE",
            purchaseUnits: [.init(referenceID: orderID, customID: orderID, invoiceID: orderID, description: String(description.prefix(127)),
                                  amount: .init(currencyCode: currency, value: MinorUnitAmount.decimalString(amountMinorUnits, fractionDigits: fractionDigits)))],
            paymentSource: .init(paypal: .init(experienceContext: .init(
                returnURL: returnURL, cancelURL: cancelURL, userAction: "PAY_NOW", shippingPreference: "NO_SHIPPING",
                brandName: configuration.brandName, locale: locale))))
        return try await send("POST", "/v2/checkout/orders", json: try Self.encode(body), requestID: requestID)
    }

    /// `GET /v2/checkout/orders/{id}`: the status query (`APPROVED` waits for our capture, `COMPLETED` is paid).
    public func order(id: String) async throws(PayPalAPIError) -> PayPalOrder {
        try await send("GET", "/v2/checkout/orders/\(Self.pathSegment(id))", json: nil, requestID: nil)
    }

    /// `POST /v2/checkout/orders/{id}/capture`: takes the money the payer approved. Capturing an order that is
    /// not approved yet is `.api(status: 422, name: "UNPROCESSABLE_ENTITY", issue: "ORDER_NOT_APPROVED")`.
    public func capture(orderID id: String, requestID: String) async throws(PayPalAPIError) -> PayPalOrder {
        try await send("POST", "/v2/checkout/orders/\(Self.pathSegment(id))/capture", json: Array("{}".utf8), requestID: requestID)
    }

    /// `POST /v2/payments/captures/{id}/refund` for `amountMinorUnits` (partial refunds allowed).
    public func refund(
        captureID: String, amountMinorUnits: Int64, currency: String, fractionDigits: Int, invoiceID: String, requestID: String
    ) async throws(PayPalAPIError) -> PayPalRefund {
        let body = RefundBody(amount: .init(currencyCode: currency, value: MinorUnitAmount.decimalString(amountMinorUnits, fractionDigits: fractionDigits)),
                              invoiceID: invoiceID)
        return try await send("POST", "/v2/payments/captures/\(Self.pathSegment(captureID))/refund", json: try Self.encode(body), requestID: requestID)
    }

    /// `POST /v1/notifications/verify-webhook-signature`: PayPal checks a delivery for us. The event is sent
    /// as the exact bytes received (spliced into the request as JSON, never decoded and re-encoded, which would
    /// change its CRC-32). True when PayPal answers `SUCCESS`.
    public func verifyWebhookSignature(headers: PayPalWebhookHeaders, webhookID: String, event: [UInt8]) async throws(PayPalAPIError) -> Bool {
        let fields: (id: String, time: String, signature: String, certURL: String, algorithm: String)
        do {
            fields = try headers.required()
        } catch {
            return false
        }
        let head = VerifyBodyHead(authAlgo: fields.algorithm, certURL: fields.certURL, transmissionID: fields.id,
                                  transmissionSig: fields.signature, transmissionTime: fields.time, webhookID: webhookID)
        var json = try Self.encode(head)
        guard json.last == UInt8(ascii: "}") else { throw .unexpectedResponse(status: 0, reason: "could not build the verify request") }
        json.removeLast()
        json += Array(#","webhook_event":"#.utf8) + event + [UInt8(ascii: "}")]
        let answer: VerifyAnswer = try await send("POST", "/v1/notifications/verify-webhook-signature", json: json, requestID: nil)
        return answer.verificationStatus == "SUCCESS"
    }

    // MARK: Transport

    private func send<Answer: Decodable>(_ method: String, _ path: String, json: [UInt8]?, requestID: String?) async throws(PayPalAPIError) -> Answer {
        var token = try await accessToken()
        for attempt in 0..<2 {
            var request = HTTPClientRequest(url: ProviderHTTPTransport.join(configuration.baseURL, path))
            request.method = .init(rawValue: method)
            request.headers.add(name: "Authorization", value: "Bearer \(token)")
            request.headers.add(name: "Accept", value: "application/json")
            request.headers.add(name: "Prefer", value: "return=representation")
            if let requestID { request.headers.add(name: "PayPal-Request-Id", value: requestID) }
            if let json {
                request.headers.add(name: "Content-Type", value: "application/json")
                request.body = .bytes(json)
            }
            let response = try await exchange(request)
            if response.status == 401, attempt == 0 {
                // The token expired early or was revoked: fetch a new one and try once more.
                await tokens.invalidate(token)
                token = try await accessToken()
                continue
            }
            return try Self.decode(status: response.status, body: response.body)
        }
        throw .unexpectedResponse(status: 401, reason: "PayPal refused a freshly issued access token")
    }

    private func accessToken() async throws(PayPalAPIError) -> String {
        let configuration = self.configuration
        let httpClient = self.httpClient
        do {
            return try await tokens.token(now: Date()) {
                var request = HTTPClientRequest(url: ProviderHTTPTransport.join(configuration.baseURL, "/v1/oauth2/token"))
                request.method = .POST
                let credentials = Data("\(configuration.clientID):\(configuration.clientSecret)".utf8).base64EncodedString()
                request.headers.add(name: "Authorization", value: "Basic \(credentials)")
                request.headers.add(name: "Accept", value: "application/json")
                request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
                request.body = .bytes(Array("grant_type=client_credentials".utf8))
                let response = try await Self.exchange(request, on: httpClient, timeout: configuration.requestTimeout)
                guard (200..<300).contains(response.status) else {
                    let decoder = JSONDecoder()
                    decoder.keyDecodingStrategy = .convertFromSnakeCase
                    let error = try? decoder.decode(OAuthError.self, from: response.body)
                    throw PayPalAPIError.authentication(status: response.status, error: error?.error ?? "unknown",
                                                        description: error?.errorDescription ?? "\(response.body.count) bytes")
                }
                let answer: TokenAnswer = try Self.decode(status: response.status, body: response.body)
                return (answer.accessToken, TimeInterval(answer.expiresIn))
            }
        } catch let error as PayPalAPIError {
            throw error
        } catch {
            throw .network(reason: "\(error)")
        }
    }

    private func exchange(_ request: HTTPClientRequest) async throws(PayPalAPIError) -> ProviderHTTPTransport.Response {
        try await Self.exchange(request, on: httpClient, timeout: configuration.requestTimeout)
    }

    static func exchange(_ request: HTTPClientRequest, on httpClient: HTTPClient, timeout: Duration) async throws(PayPalAPIError) -> ProviderHTTPTransport.Response {
        do {
            return try await ProviderHTTPTransport.send(request, on: httpClient, timeout: timeout)
        } catch {
            switch error {
            case .timedOut: throw .timedOut
            case .network(let reason): throw .network(reason: reason)
            case .bodyNotRead(let status, let reason): throw .unexpectedResponse(status: status, reason: "body not read: \(reason)")
            }
        }
    }

    static func encode(_ value: some Encodable) throws(PayPalAPIError) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        do {
            return Array(try encoder.encode(value))
        } catch {
            throw .unexpectedResponse(status: 0, reason: "could not encode the request: \(error)")
        }
    }

    static func decode<Answer: Decodable>(status: Int, body: Data) throws(PayPalAPIError) -> Answer {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        guard (200..<300).contains(status) else {
            if let error = try? decoder.decode(ErrorBody.self, from: body) {
                throw .api(status: status, name: error.name, issue: error.details?.first?.issue, message: error.message ?? "", debugID: error.debugId)
            }
            throw .unexpectedResponse(status: status, reason: "no PayPal error object in the body (\(body.count) bytes)")
        }
        do {
            return try decoder.decode(Answer.self, from: body)
        } catch {
            throw .unexpectedResponse(status: status, reason: "not a \(Answer.self): \(error)")
        }
    }

    /// PayPal ids are `[A-Z0-9-]`; anything else is escaped so an id can never change the path.
    static func pathSegment(_ id: String) -> String {
        FormURLEncoding.encodeComponent(id).replacingOccurrences(of: "+", with: "%20")
    }

    // MARK: Wire shapes

    struct Amount: Codable {
        let currencyCode: String
        let value: String
    }

    struct CreateOrderBody: Encodable {
        struct PurchaseUnit: Encodable {
            let referenceID: String
            let customID: String
            let invoiceID: String
            let description: String
            let amount: Amount
            enum CodingKeys: String, CodingKey {
                case referenceID = "referenceId", customID = "customId", invoiceID = "invoiceId", description, amount
            }
        }
        struct PaymentSource: Encodable {
            struct PayPal: Encodable {
                struct ExperienceContext: Encodable {
                    let returnURL: String
                    let cancelURL: String
                    let userAction: String
                    let shippingPreference: String
                    let brandName: String?
                    let locale: String?
                    enum CodingKeys: String, CodingKey {
                        case returnURL = "returnUrl", cancelURL = "cancelUrl", userAction, shippingPreference, brandName, locale
                    }
                }
                let experienceContext: ExperienceContext
            }
            let paypal: PayPal
        }
        let intent: String
        let purchaseUnits: [PurchaseUnit]
        let paymentSource: PaymentSource
    }

    struct RefundBody: Encodable {
        let amount: Amount
        let invoiceID: String
        enum CodingKeys: String, CodingKey { case amount, invoiceID = "invoiceId" }
    }

    struct VerifyBodyHead: Encodable {
        let authAlgo: String
        let certURL: String
        let transmissionID: String
        let transmissionSig: String
        let transmissionTime: String
        let webhookID: String
        enum CodingKeys: String, CodingKey {
            case authAlgo, certURL = "certUrl", transmissionID = "transmissionId", transmissionSig, transmissionTime, webhookID = "webhookId"
        }
    }

    struct VerifyAnswer: Decodable {
        let verificationStatus: String
    }

    struct TokenAnswer: Decodable {
        let accessToken: String
        let expiresIn: Int
    }

    struct OAuthError: Decodable {
        let error: String
        let errorDescription: String?
    }

    struct ErrorBody: Decodable {
        struct Detail: Decodable { let issue: String? }
        let name: String
        let message: String?
        let debugId: String?
        let details: [Detail]?
    }

    /// One access token, shared by concurrent calls (one fetch at a time).
    actor TokenStore {
        var current: (token: String, expires: Date)?
        var pending: Task<(String, TimeInterval), any Error>?

        func token(now: Date, fetch: @escaping @Sendable () async throws -> (String, TimeInterval)) async throws -> String {
            if let current, current.expires > now.addingTimeInterval(60) { return current.token }
            let task = pending ?? Task { try await fetch() }
            pending = task
            defer { pending = nil }
            let (token, lifetime) = try await task.value
            current = (token, now.addingTimeInterval(lifetime))
            return token
        }

        func invalidate(_ token: String) {
            if current?.token == token { current = nil }
        }
    }
}

/// A PayPal order as Orders v2 returns it, reduced to what a recharge needs.
public struct PayPalOrder: Sendable, Equatable, Decodable {
    public struct Capture: Sendable, Equatable, Decodable {
        public struct Amount: Sendable, Equatable, Decodable {
            public let currencyCode: String
            public let value: String
        }
        public let id: String
        /// `COMPLETED`, `PENDING`, `DECLINED`, `REFUNDED`, `PARTIALLY_REFUNDED`, `FAILED`.
        public let status: String
        public let amount: Amount?
        public let customId: String?
    }
    struct PurchaseUnit: Sendable, Equatable, Decodable {
        struct Payments: Sendable, Equatable, Decodable { let captures: [Capture]? }
        let referenceId: String?
        let customId: String?
        let payments: Payments?
    }
    struct Link: Sendable, Equatable, Decodable {
        let href: String
        let rel: String
    }

    public let id: String
    /// `CREATED`, `PAYER_ACTION_REQUIRED`, `APPROVED`, `COMPLETED`, `VOIDED`.
    public let status: String
    let purchaseUnits: [PurchaseUnit]?
    let links: [Link]?

    /// Where the payer approves the order (`payer-action`, or `approve` from older integrations).
    public var approvalURL: String? { links?.first { $0.rel == "payer-action" || $0.rel == "approve" }?.href }
    /// Our order id, as we sent it in `custom_id` (or `reference_id`).
    public var customID: String? { purchaseUnits?.first.flatMap { $0.customId ?? $0.referenceId } }
    public var captures: [Capture] { purchaseUnits?.flatMap { $0.payments?.captures ?? [] } ?? [] }
    /// The completed capture, when the money has been taken.
    public var completedCapture: Capture? { captures.first { $0.status == "COMPLETED" } }
}

public struct PayPalRefund: Sendable, Equatable, Decodable {
    public let id: String
    /// `COMPLETED`, `PENDING`, `FAILED`, `CANCELLED`.
    public let status: String
}

/// Why a `PayPalClient` call did not return what it asked for.
public enum PayPalAPIError: Error, Sendable, Equatable, CustomStringConvertible {
    /// PayPal's refusal: the HTTP status, its error `name`, the first detail's `issue` (`ORDER_NOT_APPROVED`,
    /// `ORDER_ALREADY_CAPTURED`, `DUPLICATE_INVOICE_ID`, …) and `debug_id` for PayPal's support.
    case api(status: Int, name: String, issue: String?, message: String, debugID: String?)
    /// The OAuth token request was refused (wrong client id or secret).
    case authentication(status: Int, error: String, description: String)
    case unexpectedResponse(status: Int, reason: String)
    case timedOut
    case network(reason: String)

    public var issue: String? {
        if case .api(_, _, let issue, _, _) = self { issue } else { nil }
    }

    public var description: String {
        switch self {
        case .api(let status, let name, let issue, let message, let debugID):
            "PayPal \(status) \(name)\(issue.map { "/\($0)" } ?? ""): \(message)\(debugID.map { " (debug_id \($0))" } ?? "")"
        case .authentication(let status, let error, let description): "PayPal OAuth \(status) \(error): \(description)"
        case .unexpectedResponse(let status, let reason): "unexpected PayPal response, HTTP \(status): \(reason)"
        case .timedOut: "PayPal request timed out"
        case .network(let reason): "PayPal unreachable: \(reason)"
        }
    }
}
