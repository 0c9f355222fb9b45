import Foundation
import RechargePayments
import Testing

@Suite struct StripeWebhookSignatureTests {
    let secret = "whsec_test_5f3b1c"
    let payload = Data(#"{"id":"evt_1","type":"payment_intent.succeeded","data":{"object":{"amount":1000}}}"#.utf8)
    let timestamp: Int64 = 1_764_290_000
    var now: Date { Date(timeIntervalSince1970: TimeInterval(timestamp + 10)) }

    @Test func signedPayloadVerifies() throws {
        let header = StripeWebhookSignature.sign(payload: payload, secret: secret, timestamp: timestamp)
        #expect(header.hasPrefix("t=\(timestamp),v1="))
        let verified = try StripeWebhookSignature(secret: secret).verify(payload: payload, header: header, now: now)
        #expect(verified == timestamp)
    }

    @Test func anyV1MatchingPassesAndV0IsIgnored() throws {
        let good = StripeWebhookSignature.sign(payload: payload, secret: secret, timestamp: timestamp)
        let goodV1 = good.split(separator: ",")[1]
        let otherV1 = StripeWebhookSignature.sign(payload: payload, secret: "whsec_old", timestamp: timestamp)
            .split(separator: ",")[1]
        let header = "t=\(timestamp),\(otherV1),v0=deadbeef,\(goodV1)"
        try StripeWebhookSignature(secret: secret).verify(payload: payload, header: header, now: now)
    }

    @Test func oneChangedBodyByteIsRejected() {
        let header = StripeWebhookSignature.sign(payload: payload, secret: secret, timestamp: timestamp)
        var tampered = payload
        tampered[tampered.count - 3] ^= 0x01
        #expect(throws: PaymentProviderError.noMatchingSignature(.stripe)) {
            try StripeWebhookSignature(secret: secret).verify(payload: tampered, header: header, now: now)
        }
    }

    @Test func wrongSecretIsRejected() {
        let header = StripeWebhookSignature.sign(payload: payload, secret: "whsec_someone_else", timestamp: timestamp)
        #expect(throws: PaymentProviderError.noMatchingSignature(.stripe)) {
            try StripeWebhookSignature(secret: secret).verify(payload: payload, header: header, now: now)
        }
    }

    @Test func changedTimestampBreaksTheSignature() {
        let header = StripeWebhookSignature.sign(payload: payload, secret: secret, timestamp: timestamp)
            .replacingOccurrences(of: "t=\(timestamp)", with: "t=\(timestamp + 1)")
        #expect(throws: PaymentProviderError.noMatchingSignature(.stripe)) {
            try StripeWebhookSignature(secret: secret).verify(payload: payload, header: header, now: now)
        }
    }

    @Test func staleAndFutureTimestampsAreRejected() throws {
        let header = StripeWebhookSignature.sign(payload: payload, secret: secret, timestamp: timestamp)
        let verifier = StripeWebhookSignature(secret: secret)
        // The edge itself is accepted.
        try verifier.verify(payload: payload, header: header, now: Date(timeIntervalSince1970: TimeInterval(timestamp + 300)))
        #expect(throws: PaymentProviderError.timestampOutsideTolerance(.stripe, timestamp: timestamp, now: timestamp + 301, toleranceSeconds: 300)) {
            try verifier.verify(payload: payload, header: header, now: Date(timeIntervalSince1970: TimeInterval(timestamp + 301)))
        }
        #expect(throws: PaymentProviderError.timestampOutsideTolerance(.stripe, timestamp: timestamp, now: timestamp - 301, toleranceSeconds: 300)) {
            try verifier.verify(payload: payload, header: header, now: Date(timeIntervalSince1970: TimeInterval(timestamp - 301)))
        }
    }

    @Test func missingHeaderIsRejected() {
        for header in [nil, ""] as [String?] {
            #expect(throws: PaymentProviderError.missingSignatureHeader(.stripe, header: "Stripe-Signature")) {
                try StripeWebhookSignature(secret: secret).verify(payload: payload, header: header, now: now)
            }
        }
    }

    @Test(arguments: [
        "garbage", "v1=abcd", "t=123", "t=abc,v1=abcd", "t=1,t=2,v1=abcd", "t=-5,v1=abcd", "t=,v1=abcd",
        "t=1764290000,v0=abcd",
    ])
    func malformedHeadersAreRejected(header: String) {
        #expect {
            try StripeWebhookSignature(secret: secret).verify(payload: payload, header: header, now: now)
        } throws: { error in
            guard case .malformedSignatureHeader(.stripe, "Stripe-Signature", _) = error as? PaymentProviderError else { return false }
            return true
        }
    }

    @Test func nonHexSignatureIsNoMatchNotACrash() {
        #expect(throws: PaymentProviderError.noMatchingSignature(.stripe)) {
            try StripeWebhookSignature(secret: secret).verify(payload: payload, header: "t=\(timestamp),v1=zz,v1=abc", now: now)
        }
    }
}
