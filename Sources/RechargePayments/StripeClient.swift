import AsyncHTTPClient
import Foundation

/// The Stripe API calls a recharge order needs: create a PaymentIntent (its client secret goes to Stripe
/// Elements in the browser) or a Checkout Session (Stripe's hosted page), read them back (the reconciliation
/// job), confirm an intent (tests and sandbox-like flows), and refund.
///
/// Every POST carries the caller's `Idempotency-Key` (derive it from the order or refund id), so a retry
/// after a timeout or a crash cannot create a second intent or a second refund. Every request pins
/// `Stripe-Version`. Bodies are form-encoded as Stripe expects; responses are decoded into small structs
/// that ignore fields they do not need. Errors are `StripeAPIError`, with the HTTP status when Stripe
/// answered. The `HTTPClient` is the caller's, shared and shut down by it.
public struct StripeClient: Sendable {
    public let configuration: Configuration
    private let httpClient: HTTPClient

    /// Responses larger than this are not Stripe objects of the kind we ask for.
    static let maximumResponseBytes = 1 << 20

    public init(configuration: Configuration, httpClient: HTTPClient) {
        self.configuration = configuration
        self.httpClient = httpClient
    }

    /// `POST /v1/payment_intents`: `amount`, `currency` (lowercased), `metadata[order]`, and
    /// `automatic_payment_methods[enabled]=true` unless the configuration turns it off.
    public func createPaymentIntent(
        amountMinorUnits: Int64, currency: String, orderID: String, idempotencyKey: String
    ) async throws(StripeAPIError) -> StripePaymentIntent {
        var form = StripeForm()
        form.append("amount", String(amountMinorUnits))
        form.append("currency", currency.lowercased())
        form.append(["metadata", "order"], orderID)
        if configuration.automaticPaymentMethods {
            form.append(["automatic_payment_methods", "enabled"], "true")
        }
        return try await post("/v1/payment_intents", form: form, idempotencyKey: idempotencyKey)
    }

    /// `POST /v1/checkout/sessions` in `payment` mode: one line item priced inline, our order id in
    /// `client_reference_id`, `metadata[order]` and `payment_intent_data[metadata][order]` (so the PaymentIntent
    /// Stripe makes, its webhooks, refunds and disputes all name the order), and the payer's way back.
    public func createCheckoutSession(
        amountMinorUnits: Int64, currency: String, orderID: String, productName: String, successURL: String, cancelURL: String,
        locale: String? = nil, idempotencyKey: String
    ) async throws(StripeAPIError) -> StripeCheckoutSession {
        var form = StripeForm()
        form.append("mode", "payment")
        form.append(["line_items", "0", "price_data", "currency"], currency.lowercased())
        form.append(["line_items", "0", "price_data", "unit_amount"], String(amountMinorUnits))
        form.append(["line_items", "0", "price_data", "product_data", "name"], productName)
        form.append(["line_items", "0", "quantity"], "1")
        form.append("client_reference_id", orderID)
        form.append(["metadata", "order"], orderID)
        form.append(["payment_intent_data", "metadata", "order"], orderID)
        form.append("success_url", successURL)
        form.append("cancel_url", cancelURL)
        if let locale { form.append("locale", locale) }
        return try await post("/v1/checkout/sessions", form: form, idempotencyKey: idempotencyKey)
    }

    /// `GET /v1/checkout/sessions/{id}`: whether the payer paid on the hosted page.
    public func retrieveCheckoutSession(id: String) async throws(StripeAPIError) -> StripeCheckoutSession {
        try await send("/v1/checkout/sessions/\(Self.pathSegment(id))", form: nil, idempotencyKey: nil)
    }

    /// `GET /v1/payment_intents/{id}`: the server-side status query a credit may be based on.
    public func retrievePaymentIntent(id: String) async throws(StripeAPIError) -> StripePaymentIntent {
        try await send("/v1/payment_intents/\(Self.pathSegment(id))", form: nil, idempotencyKey: nil)
    }

    /// `POST /v1/payment_intents/{id}`: attaches a payment method (`pm_card_visa` in test mode) to an
    /// intent, leaving it `requires_confirmation`.
    public func updatePaymentIntent(
        id: String, paymentMethod: String, idempotencyKey: String
    ) async throws(StripeAPIError) -> StripePaymentIntent {
        var form = StripeForm()
        form.append("payment_method", paymentMethod)
        return try await post("/v1/payment_intents/\(Self.pathSegment(id))", form: form, idempotencyKey: idempotencyKey)
    }

    /// `POST /v1/payment_intents/{id}/confirm`, with `payment_method` when given (Stripe accepts it here;
    /// localstripe only confirms an intent whose payment method was attached before, see
    /// `updatePaymentIntent`). A decline is `StripeAPIError.api(status: 402, …)` with code `card_declined`.
    public func confirmPaymentIntent(
        id: String, paymentMethod: String? = nil, idempotencyKey: String
    ) async throws(StripeAPIError) -> StripePaymentIntent {
        var form = StripeForm()
        if let paymentMethod { form.append("payment_method", paymentMethod) }
        return try await post("/v1/payment_intents/\(Self.pathSegment(id))/confirm", form: form, idempotencyKey: idempotencyKey)
    }

    /// `POST /v1/refunds` for a PaymentIntent: `amountMinorUnits` for a partial refund, `nil` for what is
    /// left to refund.
    public func createRefund(
        paymentIntent: String, amountMinorUnits: Int64?, idempotencyKey: String
    ) async throws(StripeAPIError) -> StripeRefund {
        var form = StripeForm()
        form.append("payment_intent", paymentIntent)
        if let amountMinorUnits { form.append("amount", String(amountMinorUnits)) }
        return try await post("/v1/refunds", form: form, idempotencyKey: idempotencyKey)
    }

    // MARK: Transport

    private func post<Object: Decodable>(
        _ path: String, form: StripeForm, idempotencyKey: String
    ) async throws(StripeAPIError) -> Object {
        try await send(path, form: form, idempotencyKey: idempotencyKey)
    }

    /// A GET without a form, a POST with one: the only two shapes of request this client sends.
    private func send<Object: Decodable>(
        _ path: String, form: StripeForm?, idempotencyKey: String?
    ) async throws(StripeAPIError) -> Object {
        var request = HTTPClientRequest(url: Self.join(configuration.baseURL, path))
        request.method = form == nil ? .GET : .POST
        request.headers.add(name: "Authorization", value: "Bearer \(configuration.secretKey)")
        request.headers.add(name: "Stripe-Version", value: configuration.apiVersion)
        request.headers.add(name: "Accept", value: "application/json")
        if let idempotencyKey { request.headers.add(name: "Idempotency-Key", value: idempotencyKey) }
        if let form {
            request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
            request.body = .bytes(Array(form.encoded.utf8))
        }

        let response: HTTPClientResponse
        do {
            response = try await httpClient.execute(request, timeout: .nanoseconds(timeoutNanoseconds))
        } catch {
            throw Self.transportError(error)
        }
        let status = Int(response.status.code)
        let body: Data
        do {
            body = Data(try await response.body.collect(upTo: Self.maximumResponseBytes).readableBytesView)
        } catch {
            // Stripe answered but the body did not arrive whole: too large, cut off, or too slow.
            let transport = Self.transportError(error)
            throw transport == .timedOut ? transport : .unexpectedResponse(status: status, reason: "body not read: \(error)")
        }
        return try Self.decode(status: status, body: body)
    }

    private var timeoutNanoseconds: Int64 {
        let (seconds, attoseconds) = configuration.requestTimeout.components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }

    static func decode<Object: Decodable>(status: Int, body: Data) throws(StripeAPIError) -> Object {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        guard (200..<300).contains(status) else {
            if let envelope = try? decoder.decode(StripeErrorEnvelope.self, from: body) {
                throw .api(status: status, error: envelope.error)
            }
            throw .unexpectedResponse(status: status, reason: "no Stripe error object in the body (\(body.count) bytes)")
        }
        do {
            return try decoder.decode(Object.self, from: body)
        } catch {
            throw .unexpectedResponse(status: status, reason: "not a \(Object.self): \(error)")
        }
    }

    static func transportError(_ error: any Error) -> StripeAPIError {
        if let error = error as? StripeAPIError { return error }
        if let error = error as? HTTPClientError,
            [.deadlineExceeded, .readTimeout, .writeTimeout, .connectTimeout, .tlsHandshakeTimeout,
             .getConnectionFromPoolTimeout].contains(error)
        {
            return .timedOut
        }
        return .network(reason: String(describing: error))
    }

    static func join(_ baseURL: String, _ path: String) -> String {
        (baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL) + path
    }

    /// Stripe ids are `[A-Za-z0-9_]`; anything else is escaped so an id can never change the path.
    static func pathSegment(_ id: String) -> String {
        // The form encoder writes a space as "+" (a literal "+" comes out as %2B); in a path it is %20.
        FormURLEncoding.encodeComponent(id).replacingOccurrences(of: "+", with: "%20")
    }
}

/// Stripe's error response body: `{"error": {…}}`.
private struct StripeErrorEnvelope: Decodable {
    let error: StripeErrorObject
}
