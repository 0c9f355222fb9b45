import Crypto
import Foundation
import RechargeCore

/// The built-in payment provider: a hosted checkout page with Pay and Fail buttons whose answer comes back
/// as a signed notification, exactly as a real provider's would. It lets a newcomer run the whole online
/// recharge with no accounts, and it exercises the same path (raw-body signature check, freshness, event
/// de-duplication, amount check) that every provider's notifications take.
///
/// Notification: `POST /webhooks/sandbox`, JSON body
/// `{"id":"evt_…","type":"payment.succeeded"|"payment.failed","order":"ord_…","amount":1000,"currency":"USD","reference":"sbx_…","reason":…}`
/// (amount in minor units, as providers send it) and the header
/// `Sandbox-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">` — Stripe's scheme, so one
/// verifier shape serves both.
public struct SandboxGateway: Sendable {
    public static let signatureHeader = "Sandbox-Signature"
    /// How old (or how far in the future) a notification may be.
    public static let tolerance: TimeInterval = 300

    private let secret: [UInt8]

    /// `secret`: the shared signing secret (`RECHARGE_SANDBOX_SECRET`); by default random per process, which is
    /// all the built-in checkout page needs.
    public init(secret: [UInt8]? = nil) {
        if let secret {
            self.secret = secret
        } else {
            var generator = SystemRandomNumberGenerator()
            self.secret = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
        }
    }

    /// The notification the checkout page sends when the payer presses Pay or Fail.
    public func notification(for order: RechargeOrder, succeeded: Bool, eventID: String, now: Date) -> (body: [UInt8], signature: String) {
        var json = JSONWriter(capacity: 256)
        json.object { json in
            json.field("id", eventID)
            json.field("type", succeeded ? "payment.succeeded" : "payment.failed")
            json.field("order", order.id)
            json.field("amount", order.quote.price.minorUnits(rounding: .halfEven))
            json.field("currency", order.quote.price.currency.code)
            json.field("reference", "sbx_" + order.id.dropFirst(4))
            json.field("reason", succeeded ? nil : "The sandbox payer pressed Fail.")
        }
        let body = json.bytes
        return (body, sign(body, timestamp: Int64(now.timeIntervalSince1970)))
    }

    /// `t=<timestamp>,v1=<hex>` for `body`.
    public func sign(_ body: [UInt8], timestamp: Int64) -> String {
        "t=\(timestamp),v1=\(Self.hex(mac(body, timestamp: String(timestamp))))"
    }

    private func mac(_ body: [UInt8], timestamp: String) -> HashedAuthenticationCode<SHA256> {
        var hmac = HMAC<SHA256>(key: SymmetricKey(data: secret))
        hmac.update(data: Array(timestamp.utf8))
        hmac.update(data: [UInt8(ascii: ".")])
        hmac.update(data: body)
        return hmac.finalize()
    }

    /// Checks the signature on the raw bytes first, then the time, and only then parses the body.
    public func verify(body: [UInt8], signature header: String?, now: Date) throws(RechargeError) -> PaymentConfirmation {
        func reject(_ reason: String) -> RechargeError { .paymentNotVerified(provider: "sandbox", reason: reason) }
        guard let header, !header.isEmpty else { throw reject("no \(Self.signatureHeader) header") }
        var timestamp: String?
        var signatures: [String] = []
        for part in header.split(separator: ",") {
            let pair = part.split(separator: "=", maxSplits: 1)
            guard pair.count == 2 else { throw reject("malformed \(Self.signatureHeader) header") }
            switch pair[0].trimmingCharacters(in: .whitespaces) {
            case "t": timestamp = String(pair[1])
            case "v1": signatures.append(String(pair[1]))
            default: continue
            }
        }
        guard let timestamp, let seconds = Int64(timestamp), !signatures.isEmpty else {
            throw reject("\(Self.signatureHeader) needs t= and v1=")
        }
        let expected = mac(body, timestamp: timestamp)
        // Constant-time comparison on the bytes (HashedAuthenticationCode's == is constant-time).
        guard signatures.contains(where: { candidate in Self.unhex(candidate).map { expected == $0 } ?? false }) else {
            throw reject("no signature matches")
        }
        guard abs(now.timeIntervalSince1970 - TimeInterval(seconds)) <= Self.tolerance else {
            throw reject("timestamp outside the \(Int(Self.tolerance)) s tolerance")
        }
        struct Body: Decodable {
            let id: String
            let type: String
            let order: String
            let amount: Int64
            let currency: String
            let reference: String?
            let reason: String?
        }
        let parsed: Body
        do {
            parsed = try JSONDecoder().decode(Body.self, from: Data(body))
        } catch {
            throw reject("the body is not a sandbox notification")
        }
        let outcome: PaymentConfirmation.Outcome
        switch parsed.type {
        case "payment.succeeded": outcome = .succeeded
        case "payment.failed": outcome = .failed
        default: throw reject("unknown event type '\(parsed.type)'")
        }
        guard (1...200).contains(parsed.id.utf8.count) else { throw reject("event id must be 1 to 200 bytes") }
        let amount = try Money.fromMinorUnits(parsed.amount, currency: try Currency(code: parsed.currency))
        return PaymentConfirmation(provider: .sandbox, eventID: parsed.id, orderID: parsed.order, outcome: outcome, amount: amount,
                                   providerReference: parsed.reference, failureReason: parsed.reason)
    }

    static func hex(_ mac: HashedAuthenticationCode<SHA256>) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(64)
        for byte in mac { out.append(digits[Int(byte >> 4)]); out.append(digits[Int(byte & 0x0F)]) }
        return String(decoding: out, as: UTF8.self)
    }

    static func unhex(_ text: String) -> [UInt8]? {
        let bytes = Array(text.utf8)
        guard bytes.count == 64 else { return nil }
        var out = [UInt8]()
        out.reserveCapacity(32)
        func value(_ c: UInt8) -> UInt8? {
            switch c {
            case 0x30...0x39: c - 0x30
            case 0x61...0x66: c - 0x61 + 10
            case 0x41...0x46: c - 0x41 + 10
            default: nil
            }
        }
        var index = 0
        while index < 64 {
            guard let high = value(bytes[index]), let low = value(bytes[index + 1]) else { return nil }
            out.append(high << 4 | low)
            index += 2
        }
        return out
    }
}
