import Foundation
import Testing
@testable import RechargeCore

@Suite("Commands")
struct CommandsTests {
    static let max = TopUpCommand.maximumAmount
    static let other = try! MSISDN("+8613800138000")

    // MARK: IdempotencyKey

    @Test("valid idempotency keys", arguments: [
        "a",
        "550e8400-e29b-41d4-a716-446655440000",
        "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~",
        String(repeating: "k", count: 255),
    ])
    func validKeys(value: String) throws {
        let key = try IdempotencyKey(value)
        #expect(key.value == value)
        #expect(key.description == value)
    }

    @Test func emptyKeyIsMissing() {
        #expect(throws: RechargeError.missingIdempotencyKey) { try IdempotencyKey("") }
    }

    @Test("invalid idempotency keys", arguments: [
        String(repeating: "k", count: 256),
        String(repeating: "k", count: 10_000),
        "has space",
        " leading",
        "trailing ",
        "tab\there",
        "new\nline",
        "del\u{7F}",
        "nul\u{0}",
        "clé",
        "键",
        "emoji🙂",
        String(repeating: "é", count: 100),   // 200 bytes, non-ASCII
    ])
    func invalidKeys(value: String) {
        expectRechargeError("invalid-idempotency-key") { try IdempotencyKey(value) }
    }

    @Test func keyEquality() throws {
        #expect(try IdempotencyKey("abc") == IdempotencyKey("abc"))
        #expect(try IdempotencyKey("abc") != IdempotencyKey("ABC"))
    }

    // MARK: BucketGrant

    @Test func validGrant() throws {
        let grant = try BucketGrant(
            kind: .data, amount: 1_073_741_824, name: "1 GB pack", validFrom: now,
            validUntil: now.addingTimeInterval(30 * day), priority: BucketGrant.defaultPriority
        )
        #expect(grant.kind == .data)
        #expect(grant.amount == 1_073_741_824)
        #expect(grant.name == "1 GB pack")
        #expect(grant.priority == 100)
        #expect(try BucketGrant(kind: .sms, amount: 1, name: nil, validFrom: nil, validUntil: nil, priority: -1000).priority == -1000)
        #expect(try BucketGrant(kind: .voice, amount: 60, name: String(repeating: "n", count: 100), validFrom: nil, validUntil: now, priority: 1000).amount == 60)
        #expect(try BucketGrant(kind: .voice, amount: 60, name: nil, validFrom: now, validUntil: nil, priority: 0).validFrom == now)
    }

    @Test("grant amounts must be positive", arguments: [Int64(0), -1, .min])
    func grantNonPositive(amount: Int64) {
        #expect(throws: RechargeError.nonPositiveAmount(String(amount))) {
            try BucketGrant(kind: .data, amount: amount, name: nil, validFrom: nil, validUntil: nil, priority: 100)
        }
    }

    @Test func grantValidation() {
        expectRechargeError("invalid-request") {
            try BucketGrant(kind: .data, amount: 1, name: String(repeating: "n", count: 101), validFrom: nil, validUntil: nil, priority: 100)
        }
        expectRechargeError("invalid-request") {
            try BucketGrant(kind: .data, amount: 1, name: nil, validFrom: now, validUntil: now, priority: 100)
        }
        expectRechargeError("invalid-request") {
            try BucketGrant(kind: .data, amount: 1, name: nil, validFrom: now, validUntil: now.addingTimeInterval(-1), priority: 100)
        }
        expectRechargeError("invalid-request") {
            try BucketGrant(kind: .data, amount: 1, name: nil, validFrom: nil, validUntil: nil, priority: 1001)
        }
        expectRechargeError("invalid-request") {
            try BucketGrant(kind: .data, amount: 1, name: nil, validFrom: nil, validUntil: nil, priority: -1001)
        }
    }

    // MARK: TopUpCommand

    @Test func validMoneyTopUp() throws {
        let money = try Money(decimal: "20", currency: usd)
        let command = try TopUpCommand(msisdn: sampleMSISDN, value: .money(money), channel: .card, reference: "order-1")
        #expect(command.msisdn == sampleMSISDN)
        #expect(command.value == .money(money))
        #expect(command.channel == .card)
        #expect(command.reference == "order-1")
        #expect(try TopUpCommand(msisdn: sampleMSISDN, value: .money(Money(micros: 1, currency: usd)), channel: .card, reference: nil).reference == nil)
        #expect(try TopUpCommand(msisdn: sampleMSISDN, value: .money(Money(micros: Self.max, currency: usd)), channel: .card, reference: nil).channel == .card)
    }

    @Test func topUpAmountValidation() {
        #expect(throws: RechargeError.nonPositiveAmount("0.00")) {
            try TopUpCommand(msisdn: sampleMSISDN, value: .money(.zero(usd)), channel: .card, reference: nil)
        }
        #expect(throws: RechargeError.nonPositiveAmount("-1.00")) {
            try TopUpCommand(msisdn: sampleMSISDN, value: .money(Money(micros: -1_000_000, currency: usd)), channel: .card, reference: nil)
        }
        #expect(throws: RechargeError.nonPositiveAmount("-500")) {
            try TopUpCommand(msisdn: sampleMSISDN, value: .money(Money(micros: -500_000_000, currency: jpy)), channel: .card, reference: nil)
        }
        #expect(throws: RechargeError.amountOverflow) {
            try TopUpCommand(msisdn: sampleMSISDN, value: .money(Money(micros: Self.max + 1, currency: usd)), channel: .card, reference: nil)
        }
        #expect(throws: RechargeError.amountOverflow) {
            try TopUpCommand(msisdn: sampleMSISDN, value: .money(Money(micros: .max, currency: usd)), channel: .card, reference: nil)
        }
    }

    @Test func bucketTopUpValidation() throws {
        let huge = try BucketGrant(kind: .data, amount: Self.max + 1, name: nil, validFrom: nil, validUntil: nil, priority: 100)
        #expect(throws: RechargeError.amountOverflow) {
            try TopUpCommand(msisdn: sampleMSISDN, value: .bucket(huge, currency: nil), channel: .promotion, reference: nil)
        }
        let atMax = try BucketGrant(kind: .data, amount: Self.max, name: nil, validFrom: nil, validUntil: nil, priority: 100)
        #expect(throws: Never.self) {
            try TopUpCommand(msisdn: sampleMSISDN, value: .bucket(atMax, currency: nil), channel: .promotion, reference: nil)
        }
        let monetary = try BucketGrant(kind: .monetary, amount: 5_000_000, name: "bonus", validFrom: nil, validUntil: now.addingTimeInterval(day), priority: 100)
        expectRechargeError("invalid-request") {
            try TopUpCommand(msisdn: sampleMSISDN, value: .bucket(monetary, currency: nil), channel: .promotion, reference: nil)
        }
        let ok = try TopUpCommand(msisdn: sampleMSISDN, value: .bucket(monetary, currency: usd), channel: .promotion, reference: nil)
        #expect(ok.value == .bucket(monetary, currency: usd))
    }

    @Test("reference must be 1 to 200 bytes", arguments: [
        "",
        String(repeating: "r", count: 201),
        String(repeating: "é", count: 101),   // 101 characters, 202 bytes
    ])
    func badReference(reference: String) {
        let money = Money(micros: 1_000_000, currency: usd)
        expectRechargeError("invalid-request") {
            try TopUpCommand(msisdn: sampleMSISDN, value: .money(money), channel: .card, reference: reference)
        }
        expectRechargeError("invalid-request") {
            try DebitCommand(msisdn: sampleMSISDN, kind: .monetary, amount: 1, currency: usd, channel: .network, reference: reference)
        }
    }

    @Test("references up to 200 bytes are accepted", arguments: [
        "r",
        String(repeating: "r", count: 200),
        String(repeating: "é", count: 100),   // 200 bytes
    ])
    func goodReference(reference: String) throws {
        let money = Money(micros: 1_000_000, currency: usd)
        #expect(try TopUpCommand(msisdn: sampleMSISDN, value: .money(money), channel: .card, reference: reference).reference == reference)
        #expect(try DebitCommand(msisdn: sampleMSISDN, kind: .sms, amount: 1, currency: nil, channel: .network, reference: reference).reference == reference)
    }

    // MARK: DebitCommand

    @Test func validDebit() throws {
        let debit = try DebitCommand(msisdn: sampleMSISDN, kind: .monetary, amount: 2_500_000, currency: usd, channel: .network, reference: "cdr-1")
        #expect(debit.kind == .monetary)
        #expect(debit.amount == 2_500_000)
        #expect(debit.currency == usd)
        #expect(try DebitCommand(msisdn: sampleMSISDN, kind: .data, amount: Self.max, currency: nil, channel: .network, reference: nil).amount == Self.max)
    }

    @Test("debit amounts must be positive", arguments: [Int64(0), -1, .min])
    func debitNonPositive(amount: Int64) {
        #expect(throws: RechargeError.nonPositiveAmount(String(amount))) {
            try DebitCommand(msisdn: sampleMSISDN, kind: .data, amount: amount, currency: nil, channel: .network, reference: nil)
        }
    }

    @Test func debitValidation() {
        #expect(throws: RechargeError.amountOverflow) {
            try DebitCommand(msisdn: sampleMSISDN, kind: .data, amount: Self.max + 1, currency: nil, channel: .network, reference: nil)
        }
        #expect(throws: RechargeError.amountOverflow) {
            try DebitCommand(msisdn: sampleMSISDN, kind: .monetary, amount: .max, currency: usd, channel: .network, reference: nil)
        }
        expectRechargeError("invalid-request") {
            try DebitCommand(msisdn: sampleMSISDN, kind: .monetary, amount: 1, currency: nil, channel: .network, reference: nil)
        }
    }

    @Test("a currency on a non-monetary debit is dropped")
    func nonMonetaryDebitDropsCurrency() throws {
        let withCurrency = try DebitCommand(msisdn: sampleMSISDN, kind: .voice, amount: 60, currency: usd, channel: .network, reference: nil)
        let without = try DebitCommand(msisdn: sampleMSISDN, kind: .voice, amount: 60, currency: nil, channel: .network, reference: nil)
        #expect(withCurrency.currency == nil)
        #expect(withCurrency == without)
        #expect(withCurrency.fingerprint == without.fingerprint)
    }

    // MARK: Fingerprints

    static func topUp(
        msisdn: MSISDN = sampleMSISDN, money: Money = Money(micros: 10_000_000, currency: usd),
        channel: Channel = .card, reference: String? = "ref"
    ) throws -> TopUpCommand {
        try TopUpCommand(msisdn: msisdn, value: .money(money), channel: channel, reference: reference)
    }

    static func grantTopUp(
        kind: BucketKind = .data, amount: Int64 = 1_000, name: String? = "pack", validFrom: Date? = now,
        validUntil: Date? = now.addingTimeInterval(30 * day), priority: Int = 100, currency: Currency? = nil,
        channel: Channel = .promotion, reference: String? = nil
    ) throws -> TopUpCommand {
        let grant = try BucketGrant(kind: kind, amount: amount, name: name, validFrom: validFrom, validUntil: validUntil, priority: priority)
        return try TopUpCommand(msisdn: sampleMSISDN, value: .bucket(grant, currency: currency), channel: channel, reference: reference)
    }

    static func debit(
        msisdn: MSISDN = sampleMSISDN, kind: BucketKind = .monetary, amount: Int64 = 1_000_000,
        currency: Currency? = usd, channel: Channel = .network, reference: String? = "cdr"
    ) throws -> DebitCommand {
        try DebitCommand(msisdn: msisdn, kind: kind, amount: amount, currency: currency, channel: channel, reference: reference)
    }

    @Test func fingerprintsAreEqualForEqualRequests() throws {
        #expect(try Self.topUp().fingerprint == Self.topUp().fingerprint)
        #expect(try Self.topUp(msisdn: MSISDN("(415) 555-0100")).fingerprint == Self.topUp().fingerprint)
        #expect(try Self.grantTopUp().fingerprint == Self.grantTopUp().fingerprint)
        #expect(try Self.debit().fingerprint == Self.debit().fingerprint)
        #expect(try Self.topUp(money: Money(decimal: "10", currency: usd)).fingerprint
            == Self.topUp(money: Money(decimal: "10.000000", currency: usd)).fingerprint)
    }

    @Test func topUpFingerprintChangesWithEveryField() throws {
        let base = try Self.topUp().fingerprint
        let variants = [
            try Self.topUp(msisdn: Self.other),
            try Self.topUp(money: Money(micros: 10_000_001, currency: usd)),
            try Self.topUp(money: Money(micros: 10_000_000, currency: cny)),
            try Self.topUp(channel: .alipay),
            try Self.topUp(reference: nil),
            try Self.topUp(reference: "ref2"),
        ].map(\.fingerprint)
        for variant in variants { #expect(variant != base) }
        #expect(Set(variants).count == variants.count)
    }

    @Test func bucketTopUpFingerprintChangesWithEveryField() throws {
        let base = try Self.grantTopUp().fingerprint
        let variants = [
            try Self.grantTopUp(kind: .voice),
            try Self.grantTopUp(amount: 1_001),
            try Self.grantTopUp(name: "other"),
            try Self.grantTopUp(name: nil),
            try Self.grantTopUp(validFrom: nil),
            try Self.grantTopUp(validFrom: now.addingTimeInterval(1)),
            try Self.grantTopUp(validUntil: nil),
            try Self.grantTopUp(validUntil: now.addingTimeInterval(31 * day)),
            try Self.grantTopUp(priority: 101),
            try Self.grantTopUp(currency: usd),
            try Self.grantTopUp(channel: .admin),
            try Self.grantTopUp(reference: "r"),
            try Self.grantTopUp(kind: .monetary, currency: usd),
        ].map(\.fingerprint)
        for variant in variants { #expect(variant != base) }
        #expect(Set(variants).count == variants.count)
    }

    @Test func debitFingerprintChangesWithEveryField() throws {
        let base = try Self.debit().fingerprint
        let variants = [
            try Self.debit(msisdn: Self.other),
            try Self.debit(kind: .data, currency: nil),
            try Self.debit(amount: 1_000_001),
            try Self.debit(currency: cny),
            try Self.debit(channel: .system),
            try Self.debit(reference: nil),
            try Self.debit(reference: "cdr2"),
        ].map(\.fingerprint)
        for variant in variants { #expect(variant != base) }
        #expect(Set(variants).count == variants.count)
    }

    @Test("top-ups, bucket grants and debits never share a fingerprint")
    func fingerprintsDifferAcrossKinds() throws {
        let money = try Self.topUp(money: Money(micros: 1_000, currency: usd), channel: .network, reference: nil)
        let grant = try Self.grantTopUp(kind: .monetary, amount: 1_000, name: nil, validFrom: nil, validUntil: nil, currency: usd, channel: .network)
        let debit = try Self.debit(kind: .monetary, amount: 1_000, currency: usd, channel: .network, reference: nil)
        #expect(Set([money.fingerprint, grant.fingerprint, debit.fingerprint]).count == 3)
    }

    @Test("free text cannot make two different requests share a fingerprint")
    func fingerprintFieldsCannotSpill() throws {
        // The separator inside a reference or a name must not let one field impersonate the next.
        let a = try Self.grantTopUp(name: "n", validFrom: nil, validUntil: nil, reference: "r|bucket|data||1000")
        let b = try Self.grantTopUp(name: "bucket|data||1000|n", validFrom: nil, validUntil: nil, reference: "r")
        #expect(a != b)
        #expect(a.fingerprint != b.fingerprint)
        // An empty name is not the same request as no name.
        let unnamed = try Self.grantTopUp(name: nil)
        let emptyName = try Self.grantTopUp(name: "")
        #expect(unnamed != emptyName)
        #expect(unnamed.fingerprint != emptyName.fingerprint)
        // Escaping stays unambiguous with backslashes too.
        let c = try Self.grantTopUp(name: "x\\", reference: "y")
        let d = try Self.grantTopUp(name: "x", reference: "\\y")
        #expect(c.fingerprint != d.fingerprint)
        // A separator carrying a combining mark is still escaped (escaping works on Unicode scalars).
        let e = try Self.grantTopUp(name: "n", validFrom: nil, validUntil: nil, reference: "r|\u{301}bucket|data||1000")
        let f = try Self.grantTopUp(name: "\u{301}bucket|data||1000|n", validFrom: nil, validUntil: nil, reference: "r|")
        #expect(e.fingerprint.unicodeScalars.elementsEqual(f.fingerprint.unicodeScalars) == false)
        #expect(Array(TopUpCommand.escapedForFingerprint("a|\u{301}\\").unicodeScalars) == ["a", "\\", "|", "\u{301}", "\\", "\\"])
        #expect(TopUpCommand.escapedForFingerprint("plain text") == "plain text")
    }

    @Test("a randomized check: distinct requests have distinct fingerprints")
    func fingerprintInjectivity() throws {
        var rng = SplitMix64(seed: 2024)
        let texts: [String?] = [nil, "", "a", "|", "a|b", "\\", "\\|", "||", "b", "|\u{301}", "\u{301}"]
        var seen: [String: TopUpCommand] = [:]
        for _ in 0..<3_000 {
            let name = texts.randomElement(using: &rng)!
            var reference = texts.randomElement(using: &rng)!
            if reference == "" { reference = nil }   // an empty reference is rejected
            let kind = BucketKind.allCases.randomElement(using: &rng)!
            let currency: Currency? = kind == .monetary ? [usd, cny].randomElement(using: &rng)! : [nil, usd].randomElement(using: &rng)!
            let command = try Self.grantTopUp(
                kind: kind,
                amount: Int64.random(in: 1...3, using: &rng),
                name: name,
                validFrom: Bool.random(using: &rng) ? nil : now,
                validUntil: Bool.random(using: &rng) ? nil : now.addingTimeInterval(day),
                priority: Int.random(in: 99...100, using: &rng),
                currency: currency,
                reference: reference
            )
            if let previous = seen[command.fingerprint] {
                #expect(previous == command, "\(previous) and \(command) share the fingerprint \(command.fingerprint)")
            } else {
                seen[command.fingerprint] = command
            }
        }
    }
}
