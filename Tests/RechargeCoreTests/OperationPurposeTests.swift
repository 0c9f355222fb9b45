import Foundation
import RechargeCore
import Testing

@Suite("Operation purposes")
struct OperationPurposeTests {
    static let order = "ord_abcdefghijkmnpqrstuvwxyz23"
    static let refund = "rf_abcdefghijkmnpqrstuvwxyz23"

    @Test func columnsAndKeys() {
        let grant = OperationPurpose.refundGrant(refundID: Self.refund, orderID: Self.order, number: 2)
        #expect(grant.name == .refundGrant && grant.orderID == Self.order && grant.refundID == Self.refund && grant.grantNumber == 2)
        #expect(grant.idempotencyKey == "refund:\(Self.refund):grant:2")
        #expect(OperationPurpose.orderPayment(orderID: Self.order).idempotencyKey == "order:\(Self.order):pay")
        #expect(OperationPurpose.renewalGrant(renewalID: "rn_1", cycle: 3, number: 1).idempotencyKey == "renewal:rn_1:3:grant:1")
        #expect(OperationPurpose.voucherRedemption(serial: 1_000_000_042).subjectID == "1000000042")
        #expect(OperationPurpose.topUp.idempotencyKey == nil && OperationPurpose.debit.orderID == nil)
        #expect(Set(OperationPurpose.Name.allCases.map(\.rawValue)).count == OperationPurpose.Name.allCases.count)
    }

    @Test func whatIsAnnounced() {
        #expect(!OperationPurpose.orderPayment(orderID: Self.order).announcesTopUp)
        #expect(!OperationPurpose.refundUnbuy(refundID: Self.refund, orderID: Self.order).announcesTopUp)
        #expect(OperationPurpose.orderCredit(orderID: Self.order).announcesTopUp && OperationPurpose.topUp.announcesTopUp)
        #expect(!OperationPurpose.refundGrant(refundID: Self.refund, orderID: Self.order, number: 1).isUsage)
        #expect(OperationPurpose.debit.isUsage)
    }

    /// An idempotency key is only a key: nothing outside the key builder (``OperationPurpose/idempotencyKey``) and
    /// migration 12's one-time backfill may read meaning out of one, by `hasPrefix`/`hasSuffix` or by SQL `LIKE`.
    @Test func nothingParsesKeys() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let allowed: Set<String> = [
            "Sources/RechargeCore/OperationPurpose.swift",
            "Sources/RechargeStore/Migrations+OperationPurposes.swift",
        ]
        // A Stripe API secret's mode prefix (sk_live_/sk_test_) is not an idempotency key.
        let notIdempotencyKeys: Set<String> = ["Sources/RechargePayments/StripeClientConfiguration.swift"]
        let call = try Regex(#"([A-Za-z_][A-Za-z0-9_]*(?:\??\.[A-Za-z_][A-Za-z0-9_]*)*)\??\.has(?:Prefix|Suffix)\("#)
        let like = try Regex(#"(?i)idempotency_key\s+(?:NOT\s+)?LIKE"#)
        var offenders: [String] = []
        let files = FileManager.default.enumerator(atPath: root.appendingPathComponent("Sources").path)
        var checked = 0
        while let path = files?.nextObject() as? String {
            guard path.hasSuffix(".swift") else { continue }
            let relative = "Sources/" + path
            guard !allowed.contains(relative) else { continue }
            checked += 1
            let text = try String(contentsOf: root.appendingPathComponent(relative), encoding: .utf8)
            for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                let onKey = line.matches(of: call).contains { match in
                    (match.output[1].substring.map(String.init) ?? "").lowercased().contains("key") && !notIdempotencyKeys.contains(relative)
                }
                if onKey || line.contains(like) { offenders.append("\(relative):\(number + 1): \(line.trimmingCharacters(in: .whitespaces))") }
            }
        }
        #expect(checked > 100)
        #expect(offenders.isEmpty, "idempotency keys read outside the key builder:\n\(offenders.joined(separator: "\n"))")
    }
}
