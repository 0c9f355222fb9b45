import Foundation
import RechargeCore
import Testing

/// The custom amount a payer types, a guest's contact, the quick-recharge counters and who may be recharged by a
/// guest: pure rules, no database.
@Suite("Custom amounts and guest recharges")
struct GuestRechargeTests {
    static let catalog = try! Catalog(CatalogDefinition(
        customTopUp: ["USD": .init(min: "5", max: "500"), "JPY": .init(min: "500", max: "50000"), "KWD": .init(min: "1", max: "100")],
        products: [OrderLifecycleTests.product("us-5gb")]))

    static func usd(_ text: String) throws(CustomAmountRefusal) -> Money { try CustomAmount.parse(text, currency: .usd, catalog: catalog) }

    static func refusal(_ text: String, _ currency: Currency = .usd) -> CustomAmountRefusal? {
        do { _ = try CustomAmount.parse(text, currency: currency, catalog: catalog); return nil } catch { return error }
    }

    @Test func amountsWithinTheRangeAreTakenExactly() throws {
        #expect(try Self.usd("12.50").micros == 12_500_000)
        #expect(try Self.usd(" 12.5 ").micros == 12_500_000)
        #expect(try Self.usd("12,5").micros == 12_500_000)
        #expect(try Self.usd("5").micros == 5_000_000)
        #expect(try Self.usd("500.00").micros == 500_000_000)
        #expect(try Self.usd("0012").micros == 12_000_000)
        #expect(try CustomAmount.parse("1.125", currency: try Currency(code: "KWD"), catalog: Self.catalog).micros == 1_125_000)
        #expect(try CustomAmount.parse("1000", currency: try Currency(code: "JPY"), catalog: Self.catalog).micros == 1_000_000_000)
    }

    @Test func eachMistakeHasItsOwnRefusal() throws {
        for text in ["", " ", "abc", "1e3", "-5", "+5", "5.", ".5", "5..0", "5.0.0", "５", "12 50", "0x10", "NaN", "∞"] {
            #expect(Self.refusal(text) == .notANumber, "\(text)")
        }
        #expect(Self.refusal("12.505") == .tooManyDecimals(allowed: 2))
        #expect(Self.refusal("12.000") == .tooManyDecimals(allowed: 2))
        #expect(Self.refusal("1000.5", try Currency(code: "JPY")) == .tooManyDecimals(allowed: 0))
        #expect(Self.refusal("1.1255", try Currency(code: "KWD")) == .tooManyDecimals(allowed: 3))
        #expect(Self.refusal("4.99") == .belowMinimum(Money(micros: 5_000_000, currency: .usd)))
        #expect(Self.refusal("0") == .belowMinimum(Money(micros: 5_000_000, currency: .usd)))
        #expect(Self.refusal("500.01") == .aboveMaximum(Money(micros: 500_000_000, currency: .usd)))
        #expect(Self.refusal("99999999999999999999999") == .aboveMaximum(Money(micros: 500_000_000, currency: .usd)))
        #expect(Self.refusal("10", .cny) == .notOffered(.cny))
    }

    /// The quote checks the same range again: the page's check is for the message, not the guarantee.
    @Test func aParsedAmountIsAValidCustomTopUp() throws {
        let amount = try Self.usd("42.42")
        let plan = try OrderPlacementPlan(item: .amount(amount), lineCurrency: .usd, promotionCode: nil, payCurrency: nil, catalog: Self.catalog, at: now)
        #expect(plan.quote.price == amount && plan.quote.credit == amount)
    }

    @Test func aGuestContactIsANumberOrAnAddressOrNothing() throws {
        #expect(try GuestContact.parse("") == nil)
        #expect(try GuestContact.parse("  ") == nil)
        #expect(try GuestContact.parse("+1 415 555 0199") == .sms(try MSISDN("+14155550199")))
        #expect(try GuestContact.parse("li@example.org") == .email("li@example.org"))
        #expect(try GuestContact.parse("li@example.org")?.channel == .email)
        for bad in ["li@", "@example.org", "li@example", "hello", "+12", "li @example.org"] {
            #expect(throws: GuestContact.Refusal.invalid, "\(bad)") { try GuestContact.parse(bad) }
        }
        #expect(GuestContact(channel: "sms", recipient: "+14155550199") == .sms(try MSISDN("+14155550199")))
        #expect(GuestContact(channel: "dev", recipient: "x") == nil)
        // A subscriber's fingerprint is what it always was; a guest's names the contact.
        #expect(OrderPayer.subscriber.fingerprintPart == "")
        #expect(OrderPayer.guest(contact: .email("li@example.org"), language: .english).fingerprintPart
            != OrderPayer.guest(contact: .email("wang@example.org"), language: .english).fingerprintPart)
    }

    @Test func limitsCountPerClientThenPerNumberInAlignedWindows() throws {
        let limits = GuestRechargeLimits(reviewPerClient: 3, reviewPerNumber: 2, payPerClient: 1, payPerNumber: 1, window: 3600)
        let number = try MSISDN("+14155550100")
        let at = Date(timeIntervalSince1970: 3600 * 1000 + 125)
        let claims = limits.claims(.review, client: "10.0.0.1", number: number, now: at)
        #expect(claims.map(\.scope) == [.client, .number])
        #expect(claims.map(\.limit) == [3, 2])
        #expect(claims[0].windowStart == Date(timeIntervalSince1970: 3600 * 1000))
        #expect(claims[0].windowEnd == Date(timeIntervalSince1970: 3600 * 1001))
        #expect(claims[0].subject != limits.claims(.pay, client: "10.0.0.1", number: number, now: at)[0].subject)
        #expect(GuestRechargeLimits.allows(claims[1], used: 2))
        #expect(!GuestRechargeLimits.allows(claims[1], used: 3))
    }

    @Test func aGuestMayRechargeOnlyAnOpenLineSoldToInItsCurrency() throws {
        func line(_ status: LineStatus, _ currency: Currency) throws -> Line {
            Line(id: 1, msisdn: try MSISDN("+14155550100"), iccid: nil, type: .prepaid, status: status, currency: currency,
                 creditLimit: .zero(currency), subscriberID: nil, createdAt: now)
        }
        #expect(GuestRechargeEligibility.allows(try line(.active, .usd), catalog: Self.catalog))
        #expect(GuestRechargeEligibility.allows(try line(.suspended, .usd), catalog: Self.catalog))
        #expect(!GuestRechargeEligibility.allows(try line(.terminated, .usd), catalog: Self.catalog))
        #expect(!GuestRechargeEligibility.allows(try line(.active, try Currency(code: "EUR")), catalog: Self.catalog))
        #expect(!GuestRechargeEligibility.allows(nil, catalog: Self.catalog))
    }
}
