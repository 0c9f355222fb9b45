import AsyncHTTPClient
import Foundation
@testable import RechargePayments
import RechargeTestSupport
import Testing

@Suite("PayPal webhook signature: the signed string and the certificate URL rule")
struct PayPalSignatureRuleTests {
    @Test func crc32MatchesZlib() {
        // The check value of CRC-32/ISO-HDLC, and binascii.crc32(b"{}") as paypalrestsdk computes it.
        #expect(CRC32.checksum(Array("123456789".utf8)) == 0xCBF4_3926)
        #expect(CRC32.checksum(Array("{}".utf8)) == 2_745_614_147)
        #expect(CRC32.checksum([UInt8]()) == 0)
    }

    @Test func signedMessageIsPayPalSDKs() {
        // paypalrestsdk.notifications.WebhookEvent._get_expected_sig("a", "b", "c", "{}") == "a|b|c|2745614147"
        #expect(PayPalWebhookVerifier.signedMessage(transmissionID: "a", transmissionTime: "b", webhookID: "c", body: Array("{}".utf8))
                == "a|b|c|2745614147")
    }

    @Test func certificateURLMustBePayPals() throws {
        let verifier = PayPalWebhookVerifier(webhookID: "WH", trustRoots: [], extraCertificateOrigins: ["http://127.0.0.1:9000"]) { _ in "" }
        for allowed in ["https://api.paypal.com/v1/notifications/certs/CERT-360caa42-fca2a594-1d93a270",
                        "https://api-m.sandbox.paypal.com/v1/notifications/certs/CERT-1", "http://127.0.0.1:9000/v1/notifications/certs/CERT-1"] {
            #expect(throws: Never.self) { try verifier.checkCertificateURL(allowed) }
        }
        for refused in ["http://api.paypal.com/v1/notifications/certs/CERT-1",          // not https
                        "https://api.paypal.com.evil.example/v1/notifications/certs/CERT-1",
                        "https://evil.example/v1/notifications/certs/CERT-1",
                        "https://api.paypal.com:8443/v1/notifications/certs/CERT-1",     // another port
                        "https://user@api.paypal.com/v1/notifications/certs/CERT-1",
                        "https://api.paypal.com/v1/other/CERT-1",                         // not the certificates path
                        "https://api.paypal.com/v1/notifications/certs/CERT-1?x=1",       // a query makes any number of new URLs
                        "https://api.paypal.com/v1/notifications/certs/a/b",
                        "https://api.paypal.com/v1/notifications/certs/",
                        "https://api.paypal.com/v1/notifications/certs/" + String(repeating: "A", count: 129),
                        "http://127.0.0.1:9001/v1/notifications/certs/CERT-1", "not a url"] {
            #expect(throws: PaymentProviderError.self, "\(refused)") { try verifier.checkCertificateURL(refused) }
        }
    }

    @Test func headersAreCheckedBeforeAnyFetch() async throws {
        let verifier = PayPalWebhookVerifier(webhookID: "WH", trustRoots: []) { url in
            Issue.record("fetched \(url)")
            return ""
        }
        let now = Date(timeIntervalSince1970: 1_795_000_000)
        var headers = PayPalWebhookHeaders(transmissionID: "t", transmissionTime: "2026-11-18T11:06:40Z", transmissionSignature: "AAAA",
                                           certURL: "https://api.paypal.com/v1/notifications/certs/CERT-1", authAlgorithm: "SHA1withRSA")
        await #expect(throws: PaymentProviderError.unsupportedAlgorithm(.paypal, algorithm: "SHA1withRSA")) {
            try await verifier.verify(body: [], headers: headers, now: now)
        }
        headers.authAlgorithm = "SHA256withRSA"
        headers.transmissionTime = "yesterday"
        await #expect(throws: PaymentProviderError.malformedSignatureHeader(.paypal, header: "PAYPAL-TRANSMISSION-TIME", reason: "not an ISO 8601 time")) {
            try await verifier.verify(body: [], headers: headers, now: now)
        }
        headers.transmissionTime = "2026-11-18T11:06:40Z"   // `now`: the clock is checked before the URL
        headers.certURL = "https://evil.example/v1/notifications/certs/CERT-1"
        await #expect(throws: PaymentProviderError.untrustedCertificate(.paypal, reason: "certificate host https://evil.example is not PayPal's")) {
            try await verifier.verify(body: [], headers: headers, now: now)
        }
        headers.transmissionID = nil
        await #expect(throws: PaymentProviderError.missingSignatureHeader(.paypal, header: "PAYPAL-TRANSMISSION-ID")) {
            try await verifier.verify(body: [], headers: headers, now: now)
        }
    }
}

/// Certificate URLs the verifier asked for, in order: what a forged delivery must leave empty.
actor FetchRecorder {
    private(set) var urls: [String] = []

    func record(_ url: String) -> String {
        urls.append(url)
        return ""   // no certificate: the verification fails after the fetch
    }
}

@Suite("PayPal webhook: nothing is fetched for a stale, future or malformed delivery")
struct PayPalFetchTests {
    static let now = Date(timeIntervalSince1970: 1_795_000_000)   // 2026-11-18T11:06:40Z

    static func headers(time: String) -> PayPalWebhookHeaders {
        PayPalWebhookHeaders(transmissionID: "b2384410-f8d2-11ee-8bb8-6f4c5e7c14a2", transmissionTime: time,
                             transmissionSignature: Data(repeating: 7, count: 256).base64EncodedString(),
                             certURL: "https://api.paypal.com/v1/notifications/certs/CERT-360caa42-fca2a594-1d93a270", authAlgorithm: "SHA256withRSA")
    }

    @Test func forgedDeliveriesFetchNoCertificate() async throws {
        let recorder = FetchRecorder()
        let verifier = PayPalWebhookVerifier(webhookID: "WH", trustRoots: []) { url in await recorder.record(url) }
        // Sent 301 s ago, or 301 s ahead: refused on the clock, before the certificate URL is read.
        for time in ["2026-11-18T11:01:39Z", "2026-11-18T11:11:41Z", "2020-01-01T00:00:00Z"] {
            do {
                try await verifier.verify(body: Array("{}".utf8), headers: Self.headers(time: time), now: Self.now)
                Issue.record("a delivery sent at \(time) was accepted")
            } catch {
                #expect(error.code == PaymentProviderError.timestampOutsideTolerance(.paypal, timestamp: 0, now: 0, toleranceSeconds: 0).code, "\(error)")
            }
        }
        // Headers too long to be PayPal's, or missing: refused too.
        var long = Self.headers(time: "2026-11-18T11:06:40Z")
        long.transmissionID = String(repeating: "x", count: 2000)
        await #expect(throws: PaymentProviderError.self) { try await verifier.verify(body: [], headers: long, now: Self.now) }
        var missing = Self.headers(time: "2026-11-18T11:06:40Z")
        missing.transmissionSignature = ""
        await #expect(throws: PaymentProviderError.missingSignatureHeader(.paypal, header: "PAYPAL-TRANSMISSION-SIG")) {
            try await verifier.verify(body: [], headers: missing, now: Self.now)
        }
        #expect(await recorder.urls.isEmpty)
        // A delivery within the window does reach the fetch (here it serves nothing, so it still fails).
        await #expect(throws: PaymentProviderError.self) {
            try await verifier.verify(body: Array("{}".utf8), headers: Self.headers(time: "2026-11-18T11:04:00Z"), now: Self.now)
        }
        #expect(await recorder.urls == ["https://api.paypal.com/v1/notifications/certs/CERT-360caa42-fca2a594-1d93a270"])
    }

    /// Fresh deliveries (a forger can put the current time in the header) naming a new certificate each: at
    /// most 10 fetches a minute, whatever the number of deliveries; the next minute, fetching resumes.
    @Test func newCertificateURLsAreFetchedAtMostTenAMinute() async throws {
        let recorder = FetchRecorder()
        let verifier = PayPalWebhookVerifier(webhookID: "WH", trustRoots: []) { url in await recorder.record(url) }
        for index in 0..<50 {
            var headers = Self.headers(time: "2026-11-18T11:06:40Z")
            headers.certURL = "https://api.paypal.com/v1/notifications/certs/CERT-\(index)"
            await #expect(throws: PaymentProviderError.self) { try await verifier.verify(body: [], headers: headers, now: Self.now) }
        }
        #expect(await recorder.urls.count == 10)
        var later = Self.headers(time: "2026-11-18T11:07:41Z")
        later.certURL = "https://api.paypal.com/v1/notifications/certs/CERT-later"
        await #expect(throws: PaymentProviderError.self) { try await verifier.verify(body: [], headers: later, now: Self.now.addingTimeInterval(61)) }
        #expect(await recorder.urls.count == 11)
    }

    /// PayPal's verify API is not called for what the precheck refuses either (the same checks, shared).
    @Test func precheckRefusesStaleDeliveries() throws {
        #expect(throws: PaymentProviderError.self) {
            _ = try PayPalWebhookVerifier.precheck(Self.headers(time: "2026-11-18T11:00:00Z"), now: Self.now, toleranceSeconds: 300)
        }
        let fields = try PayPalWebhookVerifier.precheck(Self.headers(time: "2026-11-18T11:06:00Z"), now: Self.now, toleranceSeconds: 300)
        #expect(fields.signature.count == 256)
    }
}

/// PayPalClient and both ways of verifying webhooks, against the stand-in gateway (scripts/peers/paypal_gateway.py),
/// whose webhooks are signed over the string PayPal's own SDK builds, with a certificate chain it makes.
@Suite("PayPal client and webhooks against the stand-in gateway", .enabled(if: PaymentPeer.isAvailable,
       "RECHARGE_TEST_PEERS_PYTHON is not set: run scripts/test (or eval \"$(scripts/start-peers)\") for the gateway peers"))
struct PayPalPeerTests {
    static let webhookID = "8PT597110X687430LKGECATA"

    static func withGateway(_ body: (GatewayPeer, PayPalClient, PayPalWebhookVerifier) async throws -> Void) async throws {
        let gateway = try await GatewayPeer.start(script: "paypal_gateway.py",
                                                  arguments: ["--client-id", "AcLIENT", "--client-secret", "s3cret", "--webhook-id", webhookID], files: [:])
        do {
            let client = PayPalClient(configuration: .init(clientID: "AcLIENT", clientSecret: "s3cret", baseURL: gateway.url, requestTimeout: .seconds(10)),
                                      httpClient: .shared)
            let roots = try PayPalWebhookVerifier.certificates(pem: String(decoding: try await gateway.fetch("/_test/ca"), as: UTF8.self))
            let verifier = PayPalWebhookVerifier(webhookID: webhookID, trustRoots: roots, extraCertificateOrigins: [gateway.url],
                                                 fetch: PayPalWebhookVerifier.fetcher(httpClient: .shared))
            try await body(gateway, client, verifier)
        } catch {
            await gateway.stop()
            throw error
        }
        await gateway.stop()
    }

    static func approvedOrder(_ client: PayPalClient, _ gateway: GatewayPeer, order: String) async throws -> PayPalOrder {
        let created = try await client.createOrder(orderID: order, amountMinorUnits: 1000, currency: "USD", fractionDigits: 2, description: "$10 credit",
                                                   returnURL: "https://recharge.example/paypal/return?order=\(order)",
                                                   cancelURL: "https://recharge.example/paypal/cancel?order=\(order)", requestID: "order:\(order):create")
        #expect(created.status == "PAYER_ACTION_REQUIRED")
        #expect(created.approvalURL == "\(gateway.url)/checkoutnow?token=\(created.id)")
        _ = try await gateway.fetch("/_test/approve?token=\(created.id)")
        return created
    }

    struct Delivery: Decodable {
        let headers: [String: String]
        let body: String
        var paypalHeaders: PayPalWebhookHeaders {
            PayPalWebhookHeaders(transmissionID: headers["PAYPAL-TRANSMISSION-ID"], transmissionTime: headers["PAYPAL-TRANSMISSION-TIME"],
                                 transmissionSignature: headers["PAYPAL-TRANSMISSION-SIG"], certURL: headers["PAYPAL-CERT-URL"],
                                 authAlgorithm: headers["PAYPAL-AUTH-ALGO"])
        }
    }

    static func delivery(_ gateway: GatewayPeer, _ query: String) async throws -> Delivery {
        try JSONDecoder().decode(Delivery.self, from: try await gateway.fetch("/_test/webhook?\(query)"))
    }

    @Test func orderApproveCaptureRefund() async throws {
        try await Self.withGateway { gateway, client, _ in
            let created = try await Self.approvedOrder(client, gateway, order: "ord_pp1")
            // A retried create with the same PayPal-Request-Id is the same PayPal order, not a second one.
            let again = try await client.createOrder(orderID: "ord_pp1", amountMinorUnits: 1000, currency: "USD", fractionDigits: 2, description: "$10 credit",
                                                     returnURL: "https://x/r", cancelURL: "https://x/c", requestID: "order:ord_pp1:create")
            #expect(again.id == created.id)
            #expect(try await client.order(id: created.id).status == "APPROVED")

            let captured = try await client.capture(orderID: created.id, requestID: "order:ord_pp1:capture")
            #expect(captured.status == "COMPLETED")
            let capture = try #require(captured.completedCapture)
            #expect(capture.amount == .init(currencyCode: "USD", value: "10.00"))
            #expect(captured.customID == "ord_pp1")
            // The same capture request again answers the same capture; a new one is refused as already captured.
            #expect(try await client.capture(orderID: created.id, requestID: "order:ord_pp1:capture").completedCapture?.id == capture.id)
            await #expect(throws: PayPalAPIError.self) { _ = try await client.capture(orderID: created.id, requestID: "other") }
            do {
                _ = try await client.capture(orderID: created.id, requestID: "other-2")
            } catch let error as PayPalAPIError {
                #expect(error.issue == "ORDER_ALREADY_CAPTURED")
            }

            let refund = try await client.refund(captureID: capture.id, amountMinorUnits: 400, currency: "USD", fractionDigits: 2,
                                                 invoiceID: "rf_1", requestID: "refund:rf_1")
            #expect(refund.status == "COMPLETED")
            // Retried: the same refund; beyond what is left: PayPal refuses.
            #expect(try await client.refund(captureID: capture.id, amountMinorUnits: 400, currency: "USD", fractionDigits: 2,
                                            invoiceID: "rf_1", requestID: "refund:rf_1").id == refund.id)
            do {
                _ = try await client.refund(captureID: capture.id, amountMinorUnits: 601, currency: "USD", fractionDigits: 2,
                                            invoiceID: "rf_2", requestID: "refund:rf_2")
                Issue.record("a refund beyond the capture was accepted")
            } catch let error as PayPalAPIError {
                #expect(error.issue == "REFUND_AMOUNT_EXCEEDED")
            }
        }
    }

    @Test func captureBeforeApprovalIsRefusedAndTokensAreRenewed() async throws {
        try await Self.withGateway { gateway, client, _ in
            let created = try await client.createOrder(orderID: "ord_pp2", amountMinorUnits: 500, currency: "USD", fractionDigits: 2, description: "x",
                                                       returnURL: "https://x/r", cancelURL: "https://x/c", requestID: "order:ord_pp2:create")
            do {
                _ = try await client.capture(orderID: created.id, requestID: "order:ord_pp2:capture")
                Issue.record("captured an order nobody approved")
            } catch let error as PayPalAPIError {
                #expect(error.issue == "ORDER_NOT_APPROVED")
            }
            // Every token revoked: the next call fetches a new one and succeeds.
            try await gateway.hook("/_test/expire-tokens")
            #expect(try await client.order(id: created.id).status == "PAYER_ACTION_REQUIRED")
            // Wrong credentials: the OAuth refusal, not a crash or a retry loop.
            let wrong = PayPalClient(configuration: .init(clientID: "AcLIENT", clientSecret: "wrong", baseURL: gateway.url), httpClient: .shared)
            await #expect(throws: PayPalAPIError.authentication(status: 401, error: "invalid_client", description: "Client Authentication failed")) {
                _ = try await wrong.order(id: created.id)
            }
        }
    }

    @Test func webhooksVerifyLocallyAndByTheVerifyAPI() async throws {
        try await Self.withGateway { gateway, client, verifier in
            let created = try await Self.approvedOrder(client, gateway, order: "ord_pp3")
            _ = try await client.capture(orderID: created.id, requestID: "order:ord_pp3:capture")
            let genuine = try await Self.delivery(gateway, "type=PAYMENT.CAPTURE.COMPLETED&token=\(created.id)")
            let body = Array(genuine.body.utf8)
            try await verifier.verify(body: body, headers: genuine.paypalHeaders, now: Date())
            #expect(try await client.verifyWebhookSignature(headers: genuine.paypalHeaders, webhookID: Self.webhookID, event: body))

            // One byte changed in the body.
            let tampered = Array(genuine.body.replacingOccurrences(of: "10.00", with: "90.00").utf8)
            await #expect(throws: PaymentProviderError.noMatchingSignature(.paypal)) {
                try await verifier.verify(body: tampered, headers: genuine.paypalHeaders, now: Date())
            }
            #expect(try await client.verifyWebhookSignature(headers: genuine.paypalHeaders, webhookID: Self.webhookID, event: tampered) == false)
            // Signed for another webhook (another merchant's endpoint).
            let otherEndpoint = PayPalWebhookVerifier(webhookID: "OTHERWEBHOOK", trustRoots: try PayPalWebhookVerifier.certificates(
                pem: String(decoding: try await gateway.fetch("/_test/ca"), as: UTF8.self)), extraCertificateOrigins: [gateway.url],
                fetch: PayPalWebhookVerifier.fetcher(httpClient: .shared))
            await #expect(throws: PaymentProviderError.noMatchingSignature(.paypal)) {
                try await otherEndpoint.verify(body: body, headers: genuine.paypalHeaders, now: Date())
            }
            #expect(try await client.verifyWebhookSignature(headers: genuine.paypalHeaders, webhookID: "OTHERWEBHOOK", event: body) == false)
            // Replayed ten minutes later.
            await #expect(throws: PaymentProviderError.self) {
                try await verifier.verify(body: body, headers: genuine.paypalHeaders, now: Date().addingTimeInterval(600))
            }
            let stale = try await Self.delivery(gateway, "type=PAYMENT.CAPTURE.COMPLETED&token=\(created.id)&age=900")
            await #expect(throws: PaymentProviderError.self) {
                try await verifier.verify(body: Array(stale.body.utf8), headers: stale.paypalHeaders, now: Date())
            }
            // Signed with a certificate that names paypal.com but does not chain to a trusted root.
            let rogue = try await Self.delivery(gateway, "type=PAYMENT.CAPTURE.COMPLETED&token=\(created.id)&rogue=1")
            do {
                try await verifier.verify(body: Array(rogue.body.utf8), headers: rogue.paypalHeaders, now: Date())
                Issue.record("a self-issued certificate was trusted")
            } catch let error as PaymentProviderError {
                #expect(error.code == "untrusted_certificate", "\(error)")
            }
            #expect(try await client.verifyWebhookSignature(headers: rogue.paypalHeaders, webhookID: Self.webhookID, event: Array(rogue.body.utf8)) == false)
            // The genuine certificate, checked when it is no longer valid (40 days on).
            let later = PayPalWebhookVerifier(webhookID: Self.webhookID, trustRoots: try PayPalWebhookVerifier.certificates(
                pem: String(decoding: try await gateway.fetch("/_test/ca"), as: UTF8.self)), extraCertificateOrigins: [gateway.url], toleranceSeconds: 100 * 86_400,
                fetch: PayPalWebhookVerifier.fetcher(httpClient: .shared))
            do {
                try await later.verify(body: body, headers: genuine.paypalHeaders, now: Date().addingTimeInterval(40 * 86_400))
                Issue.record("an expired certificate was trusted")
            } catch let error as PaymentProviderError {
                #expect(error.code == "untrusted_certificate", "\(error)")
            }
            // The certificate URL moved to a host that is not allowed: refused before anything is fetched.
            var moved = genuine.paypalHeaders
            moved.certURL = "https://evil.example/v1/notifications/certs/CERT-stand-in"
            do {
                try await verifier.verify(body: body, headers: moved, now: Date())
                Issue.record("a certificate from another host was used")
            } catch let error as PaymentProviderError {
                #expect(error.code == "untrusted_certificate", "\(error)")
            }
        }
    }
}
