import RechargeTestSupport
import AsyncHTTPClient
import Foundation
@testable import RechargePayments
import Testing

/// What needs no peer: form encoding, response and error decoding, key redaction, an unreachable host.
@Suite struct StripeClientUnitTests {
    @Test func formKeepsOrderAndWritesNestedKeysWithBrackets() {
        var form = StripeForm()
        form.append("amount", "1000")
        form.append("currency", "usd")
        form.append(["metadata", "order"], "ord_01J9Z")
        form.append(["automatic_payment_methods", "enabled"], "true")
        #expect(form.encoded == "amount=1000&currency=usd&metadata[order]=ord_01J9Z&automatic_payment_methods[enabled]=true")
    }

    @Test func formPercentEncodesKeySegmentsAndValues() {
        var form = StripeForm()
        form.append(["metadata", "line number"], "+1 415 555 0100")
        form.append(["metadata", "note"], "充值 a&b=c [x]")
        form.append(["a", "b", "c"], "~._-")
        #expect(form.encoded == "metadata[line+number]=%2B1+415+555+0100"
            + "&metadata[note]=%E5%85%85%E5%80%BC+a%26b%3Dc+%5Bx%5D"
            + "&a[b][c]=~._-")
    }

    @Test func paymentIntentDecodesIgnoringUnknownFields() throws {
        let body = Data(#"""
            {"id":"pi_3Q","object":"payment_intent","amount":1000,"currency":"usd","status":"requires_payment_method",
             "client_secret":"pi_3Q_secret_abc","metadata":{"order":"ord_1"},"latest_charge":{"id":"ch_1"},
             "automatic_payment_methods":{"enabled":true},"some_future_field":[1,2]}
            """#.utf8)
        let intent: StripePaymentIntent = try StripeClient.decode(status: 200, body: body)
        #expect(intent.id == "pi_3Q")
        #expect(intent.amount == 1000)
        #expect(intent.currency == "usd")
        #expect(intent.status == .requiresPaymentMethod)
        #expect(intent.clientSecret == "pi_3Q_secret_abc")
        #expect(intent.orderID == "ord_1")
    }

    @Test func stripeErrorJSONBecomesTypedErrorWithStatus() {
        let body = Data(#"""
            {"error":{"type":"card_error","code":"card_declined","decline_code":"insufficient_funds",
             "message":"Your card has insufficient funds.","param":"payment_method","doc_url":"https://…"}}
            """#.utf8)
        let expected = StripeAPIError.api(status: 402, error: StripeErrorObject(
            type: "card_error", code: "card_declined", message: "Your card has insufficient funds.",
            param: "payment_method", declineCode: "insufficient_funds"))
        #expect(throws: expected) {
            let _: StripePaymentIntent = try StripeClient.decode(status: 402, body: body)
        }
        #expect(expected.status == 402)
        #expect(expected.code == "card_declined")
    }

    @Test func nonStripeAnswersAreUnexpectedResponses() {
        #expect(throws: StripeAPIError.unexpectedResponse(status: 502, reason: "no Stripe error object in the body (6 bytes)")) {
            let _: StripeRefund = try StripeClient.decode(status: 502, body: Data("<html>".utf8))
        }
        let wrongShape = Data(#"{"id":"re_1"}"#.utf8)
        let error = #expect(throws: StripeAPIError.self) {
            let _: StripeRefund = try StripeClient.decode(status: 200, body: wrongShape)
        }
        #expect(error?.status == 200)
        if case .unexpectedResponse = error {} else { Issue.record("expected unexpectedResponse, got \(String(describing: error))") }
    }

    @Test func configurationNeverShowsTheSecretKey() {
        let configuration = StripeClient.Configuration(secretKey: "sk_test_51SuperSecretValue")
        #expect(!configuration.description.contains("51SuperSecretValue"))
        #expect(configuration.description.contains("sk_test_[redacted]"))
        #expect(configuration.baseURL == "https://api.stripe.com")
        #expect(configuration.apiVersion == StripeClient.Configuration.pinnedAPIVersion)
    }

    @Test func unreachableHostIsANetworkError() async {
        // Port 1 on loopback: nothing listens there. AsyncHTTPClient retries a refused connection until the
        // timeout, then reports the last connection error, which is a network error, not a timeout.
        let client = StripeClient(
            configuration: .init(secretKey: "sk_test_x", baseURL: "http://127.0.0.1:1", requestTimeout: .seconds(1)),
            httpClient: .shared)
        let error = await #expect(throws: StripeAPIError.self) {
            try await client.retrievePaymentIntent(id: "pi_1")
        }
        if case .network = error {} else { Issue.record("expected a network error, got \(String(describing: error))") }
    }
}

/// The client against localstripe (PyPI), a stateful fake Stripe started by `scripts/start-peers`, and
/// against `scripts/peers/http_recorder.py` where the exact bytes on the wire are the point.
@Suite(.enabled(
    if: StripePeer.baseURL != nil,
    "skipped: RECHARGE_TEST_STRIPE is not set; run eval \"$(scripts/start-peers)\" to test against localstripe"))
struct StripeClientPeerTests {
    let client = StripeClient(
        configuration: .init(
            secretKey: "sk_test_recharge_peer", baseURL: StripePeer.baseURL ?? "http://127.0.0.1:1",
            requestTimeout: .seconds(10),
            // localstripe answers "Unexpected automatic_payment_methods" to the real parameter.
            automaticPaymentMethods: false),
        httpClient: .shared)

    func orderID() -> String { "ord_\(UUID().uuidString.prefix(8))" }

    @Test func createdIntentCarriesAmountCurrencyOrderAndClientSecret() async throws {
        let order = "\(orderID()) 充值 +1&x=y"
        let intent = try await client.createPaymentIntent(
            amountMinorUnits: 1000, currency: "USD", orderID: order, idempotencyKey: "\(order)/intent")
        #expect(intent.id.hasPrefix("pi_"))
        #expect(intent.amount == 1000)
        #expect(intent.currency == "usd")
        #expect(intent.status == .requiresPaymentMethod)
        #expect(intent.clientSecret?.hasPrefix("\(intent.id)_secret_") == true)
        // The order id went through form encoding and came back unchanged.
        #expect(intent.orderID == order)
    }

    @Test func sameIdempotencyKeyReturnsTheSameIntent() async throws {
        let order = orderID()
        let first = try await client.createPaymentIntent(
            amountMinorUnits: 500, currency: "usd", orderID: order, idempotencyKey: "\(order)/intent")
        let second = try await client.createPaymentIntent(
            amountMinorUnits: 500, currency: "usd", orderID: order, idempotencyKey: "\(order)/intent")
        // Stripe replays the first response for a repeated key; localstripe 1.15.10 ignores the header and
        // creates a second intent. That the header is sent on every POST is checked in requestsOnTheWire.
        withKnownIssue("localstripe does not honour Idempotency-Key", isIntermittent: true) {
            #expect(first.id == second.id)
        }
    }

    @Test func visaConfirmsToSucceededAndRetrieveAgrees() async throws {
        let order = orderID()
        let created = try await client.createPaymentIntent(
            amountMinorUnits: 2500, currency: "usd", orderID: order, idempotencyKey: "\(order)/intent")
        let attached = try await client.updatePaymentIntent(
            id: created.id, paymentMethod: "pm_card_visa", idempotencyKey: "\(order)/attach")
        #expect(attached.status == .requiresConfirmation)
        let confirmed = try await client.confirmPaymentIntent(id: created.id, idempotencyKey: "\(order)/confirm")
        #expect(confirmed.status == .succeeded)

        let retrieved = try await client.retrievePaymentIntent(id: created.id)
        #expect(retrieved.status == .succeeded)
        #expect(retrieved.amount == 2500)
        #expect(retrieved.orderID == order)
    }

    @Test func confirmWithPaymentMethodParameterIsNotImplementedByLocalstripe() async throws {
        // Stripe accepts payment_method on /confirm; localstripe answers 500 "Not implemented", which
        // also shows a 5xx with Stripe's error JSON arriving as a typed error.
        let order = orderID()
        let created = try await client.createPaymentIntent(
            amountMinorUnits: 100, currency: "usd", orderID: order, idempotencyKey: "\(order)/intent")
        await #expect(throws: StripeAPIError.api(status: 500, error: .init(type: "invalid_request_error", message: "Not implemented"))) {
            try await client.confirmPaymentIntent(id: created.id, paymentMethod: "pm_card_visa", idempotencyKey: "\(order)/confirm")
        }
    }

    @Test func partialRefundThenTheRest() async throws {
        let intent = try await succeededIntent(amount: 1000)
        let part = try await client.createRefund(
            paymentIntent: intent.id, amountMinorUnits: 300, idempotencyKey: "\(intent.id)/refund/1")
        #expect(part.id.hasPrefix("re_"))
        #expect(part.status == "succeeded")
        #expect(part.amount == 300)
        #expect(part.paymentIntent == intent.id)
        // localstripe refunds the whole charge again for a refund without amount (Stripe refunds what is
        // left), so the rest is asked for explicitly.
        let rest = try await client.createRefund(
            paymentIntent: intent.id, amountMinorUnits: 700, idempotencyKey: "\(intent.id)/refund/2")
        #expect(rest.status == "succeeded")
        #expect(rest.amount == 700)
        #expect(rest.id != part.id)
    }

    @Test func refundWithoutAmountRefundsTheWholePayment() async throws {
        let intent = try await succeededIntent(amount: 1234)
        let refund = try await client.createRefund(
            paymentIntent: intent.id, amountMinorUnits: nil, idempotencyKey: "\(intent.id)/refund")
        #expect(refund.amount == 1234)
        #expect(refund.currency == "usd")
    }

    @Test func declinedCardIsATypedCardDeclinedError() async throws {
        // localstripe's charge-time decline is pm_card_chargeCustomerFail (4000 0000 0000 0341); it does not
        // know pm_card_chargeDeclined, and its pm_card_visa_chargeDeclined declines only on attach to a customer.
        let order = orderID()
        let created = try await client.createPaymentIntent(
            amountMinorUnits: 800, currency: "usd", orderID: order, idempotencyKey: "\(order)/intent")
        _ = try await client.updatePaymentIntent(
            id: created.id, paymentMethod: "pm_card_chargeCustomerFail", idempotencyKey: "\(order)/attach")
        let error = await #expect(throws: StripeAPIError.self) {
            try await client.confirmPaymentIntent(id: created.id, idempotencyKey: "\(order)/confirm")
        }
        #expect(error?.status == 402)
        #expect(error?.code == "card_declined")
        if case .api(_, let body) = error { #expect(body.message == "Your card was declined.") }
        let after = try await client.retrievePaymentIntent(id: created.id)
        #expect(after.status == .requiresPaymentMethod)
    }

    @Test func badSecretKeyIsATyped401() async {
        var configuration = client.configuration
        configuration.secretKey = "pk_test_a_publishable_key_is_not_a_secret_key"
        let unauthorized = StripeClient(configuration: configuration, httpClient: .shared)
        await #expect(throws: StripeAPIError.api(status: 401, error: .init(type: "invalid_request_error", message: "Unauthorized"))) {
            try await unauthorized.retrievePaymentIntent(id: "pi_whatever")
        }
    }

    @Test func requestsOnTheWire() async throws {
        let canned = Data(#"{"id":"pi_rec","object":"payment_intent","amount":1000,"currency":"usd","status":"requires_payment_method","client_secret":"pi_rec_secret_1","metadata":{"order":"ord_1"}}"#.utf8)
        let recorder = try await HTTPRecorder.start(responseBody: canned)
        let stripe = StripeClient(
            configuration: .init(secretKey: "sk_test_wire", baseURL: recorder.url + "/"), httpClient: .shared)

        let intent = try await stripe.createPaymentIntent(
            amountMinorUnits: 1000, currency: "USD", orderID: "ord_1", idempotencyKey: "order/ord_1/intent")
        #expect(intent.clientSecret == "pi_rec_secret_1")
        _ = try await stripe.retrievePaymentIntent(id: "pi_rec")
        _ = try await stripe.confirmPaymentIntent(id: "pi_rec", paymentMethod: "pm_card_visa", idempotencyKey: "order/ord_1/confirm")

        let requests = try recorder.requests()
        try #require(requests.count == 3)
        let create = requests[0]
        #expect(create.method == "POST")
        #expect(create.path == "/v1/payment_intents")
        #expect(create.header("Authorization") == "Bearer sk_test_wire")
        #expect(create.header("Stripe-Version") == StripeClient.Configuration.pinnedAPIVersion)
        #expect(create.header("Idempotency-Key") == "order/ord_1/intent")
        #expect(create.header("Content-Type") == "application/x-www-form-urlencoded")
        #expect(String(decoding: create.body, as: UTF8.self)
            == "amount=1000&currency=usd&metadata[order]=ord_1&automatic_payment_methods[enabled]=true")

        let retrieve = requests[1]
        #expect(retrieve.method == "GET")
        #expect(retrieve.path == "/v1/payment_intents/pi_rec")
        #expect(retrieve.header("Idempotency-Key") == nil)
        #expect(retrieve.body.isEmpty)

        let confirm = requests[2]
        #expect(confirm.path == "/v1/payment_intents/pi_rec/confirm")
        #expect(confirm.header("Idempotency-Key") == "order/ord_1/confirm")
        #expect(String(decoding: confirm.body, as: UTF8.self) == "payment_method=pm_card_visa")
    }

    @Test func checkoutSessionOnTheWire() async throws {
        let canned = Data(#"{"id":"cs_test_a1","object":"checkout.session","url":"https://checkout.stripe.com/c/pay/cs_test_a1","status":"open","payment_status":"unpaid","payment_intent":null,"amount_total":1000,"currency":"usd","client_reference_id":"ord_1","metadata":{"order":"ord_1"}}"#.utf8)
        let recorder = try await HTTPRecorder.start(responseBody: canned)
        let stripe = StripeClient(configuration: .init(secretKey: "sk_test_wire", baseURL: recorder.url), httpClient: .shared)
        let session = try await stripe.createCheckoutSession(
            amountMinorUnits: 1000, currency: "USD", orderID: "ord_1", productName: "$10 credit & more",
            successURL: "https://recharge.example/stripe/return?order=ord_1", cancelURL: "https://recharge.example/stripe/return?order=ord_1&cancelled=1",
            locale: "zh", idempotencyKey: "order:ord_1:session")
        #expect(session.url == "https://checkout.stripe.com/c/pay/cs_test_a1" && !session.isPaid && session.orderID == "ord_1")
        try recorder.respond(with: Data(#"{"id":"cs_test_a1","object":"checkout.session","status":"complete","payment_status":"paid","payment_intent":"pi_9","amount_total":1000,"currency":"usd","metadata":{"order":"ord_1"}}"#.utf8))
        let paid = try await stripe.retrieveCheckoutSession(id: "cs_test_a1")
        #expect(paid.isPaid && paid.paymentIntent == "pi_9" && paid.url == nil)

        let requests = try recorder.requests()
        try #require(requests.count == 2)
        #expect(requests[0].method == "POST" && requests[0].path == "/v1/checkout/sessions")
        #expect(requests[0].header("Idempotency-Key") == "order:ord_1:session")
        #expect(requests[0].header("Stripe-Version") == StripeClient.Configuration.pinnedAPIVersion)
        #expect(String(decoding: requests[0].body, as: UTF8.self) == [
            "mode=payment", "line_items[0][price_data][currency]=usd", "line_items[0][price_data][unit_amount]=1000",
            "line_items[0][price_data][product_data][name]=%2410+credit+%26+more", "line_items[0][quantity]=1",
            "client_reference_id=ord_1", "metadata[order]=ord_1", "payment_intent_data[metadata][order]=ord_1",
            "success_url=https%3A%2F%2Frecharge.example%2Fstripe%2Freturn%3Forder%3Dord_1",
            "cancel_url=https%3A%2F%2Frecharge.example%2Fstripe%2Freturn%3Forder%3Dord_1%26cancelled%3D1", "locale=zh",
        ].joined(separator: "&"))
        #expect(requests[1].method == "GET" && requests[1].path == "/v1/checkout/sessions/cs_test_a1")
    }

    @Test func noAnswerWithinTheTimeoutIsTimedOut() async throws {
        let recorder = try await HTTPRecorder.start(hang: true)
        let stripe = StripeClient(
            configuration: .init(secretKey: "sk_test_x", baseURL: recorder.url, requestTimeout: .milliseconds(500)),
            httpClient: .shared)
        let started = Date()
        await #expect(throws: StripeAPIError.timedOut) {
            try await stripe.retrievePaymentIntent(id: "pi_slow")
        }
        // Well under the 10 s a hung test would take even on a loaded machine: the deadline, not luck, ended it.
        #expect(Date().timeIntervalSince(started) < 8)
    }

    @Test func succeededEventArrivesSignedAndVerifies() async throws {
        let recorder = try await HTTPRecorder.start()
        let secret = "whsec_localstripe_\(UUID().uuidString.prefix(8))"
        try await StripePeer.registerWebhook(url: recorder.url + "/stripe/webhook", secret: secret)

        let intent = try await succeededIntent(amount: 4200)
        let delivery = try await recorder.waitForRequest(within: 15) { request in
            request.path == "/stripe/webhook" && String(decoding: request.body, as: UTF8.self).contains(intent.id)
        }
        let header = try #require(delivery.header(StripeWebhookSignature.headerName))
        let signedAt = try StripeWebhookSignature(secret: secret).verify(payload: delivery.body, header: header, now: Date())
        #expect(header.hasPrefix("t=\(signedAt),v1="))
        #expect(throws: PaymentProviderError.noMatchingSignature(.stripe)) {
            try StripeWebhookSignature(secret: "whsec_other").verify(payload: delivery.body, header: header, now: Date())
        }

        let event = try #require(try JSONSerialization.jsonObject(with: delivery.body) as? [String: Any])
        #expect(event["type"] as? String == "payment_intent.succeeded")
        #expect(event["object"] as? String == "event")
        let object = try #require((event["data"] as? [String: Any])?["object"] as? [String: Any])
        #expect(object["id"] as? String == intent.id)
        #expect(object["status"] as? String == "succeeded")
        #expect(object["amount"] as? Int == 4200)
        #expect((object["metadata"] as? [String: String])?["order"] == intent.orderID)
    }

    /// A PaymentIntent paid with pm_card_visa, the way localstripe allows (attach, then confirm).
    func succeededIntent(amount: Int64) async throws -> StripePaymentIntent {
        let order = orderID()
        let created = try await client.createPaymentIntent(
            amountMinorUnits: amount, currency: "usd", orderID: order, idempotencyKey: "\(order)/intent")
        _ = try await client.updatePaymentIntent(id: created.id, paymentMethod: "pm_card_visa", idempotencyKey: "\(order)/attach")
        let confirmed = try await client.confirmPaymentIntent(id: created.id, idempotencyKey: "\(order)/confirm")
        try #require(confirmed.status == .succeeded)
        return confirmed
    }
}

/// The localstripe peer that `scripts/start-peers` starts and exports as `RECHARGE_TEST_STRIPE`.
enum StripePeer {
    static let baseURL: String? = {
        guard let value = ProcessInfo.processInfo.environment["RECHARGE_TEST_STRIPE"], !value.isEmpty else { return nil }
        return value
    }()

    /// localstripe's own configuration endpoint (not a Stripe API): every `payment_intent.succeeded` event
    /// is POSTed to `url`, signed with `secret` as Stripe signs. Re-registering the same id replaces it.
    static func registerWebhook(url: String, secret: String) async throws {
        guard let baseURL else { return }
        var form = StripeForm()
        form.append("url", url)
        form.append("secret", secret)
        var request = HTTPClientRequest(url: baseURL + "/_config/webhooks/recharge-stripe-client-tests")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
        request.body = .bytes(Array((form.encoded + "&events[]=payment_intent.succeeded").utf8))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        try #require(response.status.code == 200, "localstripe refused the webhook registration")
    }
}
