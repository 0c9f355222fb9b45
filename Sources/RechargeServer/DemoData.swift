import Foundation
import RechargeCore
import RechargeStore

/// A few lines with real balances for a newcomer to look at. Their buckets are named after the demo catalog's
/// products (in English, as the ledger keeps them), so pages show them in the reader's language. Seeding is
/// idempotent: lines that exist are left alone, and every top-up carries a fixed idempotency key.
public enum DemoData {
    @discardableResult
    public static func seed(_ ledger: LedgerStore, now: Date) async throws -> [MSISDN] {
        let day: TimeInterval = 86_400
        struct Spec {
            let msisdn: String
            let iccid: String?
            let type: LineType
            let currency: String
            let creditLimit: String?
            let money: String
            let buckets: [(BucketKind, Int64, String, TimeInterval)]
        }
        let specs = [
            Spec(msisdn: "+14155550100", iccid: "8901260123456789011", type: .prepaid, currency: "USD", creditLimit: nil, money: "25.00",
                 buckets: [(.data, 5 << 30, "US data 5 GB, 30 days", 30), (.voice, 300 * 60, "North America talk & text, 30 days", 30),
                           (.sms, 100, "North America talk & text, 30 days", 30)]),
            Spec(msisdn: "+14155550101", iccid: nil, type: .prepaid, currency: "USD", creditLimit: nil, money: "1.20",
                 buckets: [(.data, 200 << 20, "Global travel data 1 GB, 7 days", 3)]),
            Spec(msisdn: "+14155550102", iccid: nil, type: .postpaid, currency: "USD", creditLimit: "100.00", money: "0.00",
                 buckets: [(.data, 20 << 30, "Postpaid 20 GB (monthly)", 30)]),
            Spec(msisdn: "+8613800138000", iccid: nil, type: .prepaid, currency: "CNY", creditLimit: nil, money: "50.00",
                 buckets: [(.data, 1 << 30, "Global travel data 1 GB, 7 days", 7)]),
        ]
        var seeded: [MSISDN] = []
        for spec in specs {
            let msisdn = try MSISDN(spec.msisdn)
            let currency = try Currency(code: spec.currency)
            do {
                _ = try await ledger.openLine(
                    try OpenLineCommand(
                        msisdn: msisdn, iccid: try spec.iccid.map { text throws(RechargeError) in try ICCID(text) }, type: spec.type,
                        currency: currency, creditLimit: try spec.creditLimit.map { text throws(RechargeError) in try Money(decimal: text, currency: currency) },
                        subscriber: nil),
                    now: now)
            } catch RechargeError.lineAlreadyExists {
                seeded.append(msisdn)
                continue
            }
            let money = try Money(decimal: spec.money, currency: currency)
            if money.isPositive {
                _ = try await ledger.topUp(
                    try TopUpCommand(msisdn: msisdn, value: .money(money), channel: .admin, reference: "demo"),
                    key: try IdempotencyKey("demo-\(msisdn.e164)-money"), now: now)
            }
            for (index, bucket) in spec.buckets.enumerated() {
                let grant = try BucketGrant(kind: bucket.0, amount: bucket.1, name: bucket.2, validFrom: nil, validUntil: now.addingTimeInterval(bucket.3 * day), priority: BucketGrant.defaultPriority)
                _ = try await ledger.topUp(
                    try TopUpCommand(msisdn: msisdn, value: .bucket(grant, currency: nil), channel: .admin, reference: "demo"),
                    key: try IdempotencyKey("demo-\(msisdn.e164)-bucket-\(index)"), now: now)
            }
            seeded.append(msisdn)
        }
        return seeded
    }
}
