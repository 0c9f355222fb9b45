import Foundation
import Testing
@testable import RechargeCore

@Suite("RechargeError")
struct RechargeErrorTests {
    /// One value of every case. The switch makes this fail to compile when a case is added.
    static let allCases: [RechargeError] = {
        let samples: [RechargeError] = [
            .invalidRequest("bad"),
            .unknownCurrency("XYZ"),
            .invalidAmount("1e5", reason: "not a decimal number"),
            .nonPositiveAmount("0"),
            .amountOverflow,
            .currencyMismatch(expected: "USD", got: "CNY"),
            .invalidMSISDN("123", reason: "too short"),
            .invalidICCID("89", reason: "too short"),
            .invalidCursor,
            .missingIdempotencyKey,
            .invalidIdempotencyKey("too long"),
            .lineNotFound("+14155550100"),
            .lineAlreadyExists("+14155550100"),
            .iccidInUse("8944500102198304826"),
            .illegalLineTransition(msisdn: "+14155550100", from: .terminated, to: .active),
            .lineNotActive(msisdn: "+14155550100", status: .suspended),
            .insufficientBalance(msisdn: "+14155550100", unit: "USD", available: 5, requested: 10),
            .idempotencyKeyReused("key-1"),
            .invalidCatalog("products[0]: code must be lower-case"),
            .productNotFound("topup-10"),
            .orderNotFound("ord_x"),
            .illegalOrderTransition(order: "ord_x", from: .fulfilled, event: "cancelled"),
            .paymentMethodUnavailable("paypal"),
            .paymentNotVerified(provider: "stripe", reason: "no matching signature"),
            .paymentMismatch(order: "ord_x", reason: "9 USD paid, 10 USD due"),
            .promotionUnavailable(code: "SAVE20", reason: "limit reached"),
        ]
        for sample in samples {
            switch sample {   // exhaustive: a new case must be added to `samples` above
            case .invalidRequest, .unknownCurrency, .invalidAmount, .nonPositiveAmount, .amountOverflow,
                 .currencyMismatch, .invalidMSISDN, .invalidICCID, .invalidCursor, .missingIdempotencyKey,
                 .invalidIdempotencyKey, .lineNotFound, .lineAlreadyExists, .iccidInUse, .illegalLineTransition,
                 .lineNotActive, .insufficientBalance, .idempotencyKeyReused, .invalidCatalog, .productNotFound, .orderNotFound,
                 .illegalOrderTransition, .paymentMethodUnavailable, .paymentNotVerified, .paymentMismatch, .promotionUnavailable:
                break
            }
        }
        return samples
    }()

    @Test("every case has a code, title and detail", arguments: allCases)
    func nonEmptyTexts(error: RechargeError) {
        #expect(!error.code.isEmpty)
        #expect(!error.title.isEmpty)
        #expect(!error.detail.isEmpty)
        #expect(error.description == "\(error.code): \(error.detail)")
        // Codes are URL slugs.
        #expect(error.code.allSatisfy { ($0.isASCII && $0.isLowercase) || $0 == "-" })
    }

    @Test func codesAndTitlesAreUnique() {
        let codes = Self.allCases.map(\.code)
        #expect(Set(codes).count == codes.count)
        let titles = Self.allCases.map(\.title)
        #expect(Set(titles).count == titles.count)
    }

    @Test func codesAreStableAndIndependentOfValues() {
        #expect(RechargeError.insufficientBalance(msisdn: "a", unit: "b", available: 1, requested: 2).code == "insufficient-balance")
        #expect(RechargeError.invalidAmount("x", reason: "y").code == RechargeError.invalidAmount("z", reason: "w").code)
        #expect(RechargeError.amountOverflow.code == "amount-overflow")
        #expect(RechargeError.idempotencyKeyReused("k").code == "idempotency-key-reused")
    }

    @Test func detailsNameTheValues() {
        #expect(RechargeError.unknownCurrency("XYZ").detail.contains("XYZ"))
        #expect(RechargeError.invalidMSISDN("123", reason: "too short").detail.contains("123"))
        #expect(RechargeError.invalidMSISDN("123", reason: "too short").detail.contains("too short"))
        #expect(RechargeError.illegalLineTransition(msisdn: "+14155550100", from: .terminated, to: .active).detail
            == "Line +14155550100 cannot go from terminated to active.")
        let balance = RechargeError.insufficientBalance(msisdn: "+14155550100", unit: "BYTES", available: 5, requested: 10).detail
        #expect(balance.contains("+14155550100"))
        #expect(balance.contains("BYTES"))
        #expect(balance.contains("5") && balance.contains("10"))
        #expect(RechargeError.insufficientBalance(msisdn: "+14155550100", unit: "USD", available: 5, requested: 10).detail.contains("USD"))
        #expect(RechargeError.currencyMismatch(expected: "USD", got: "CNY").detail.contains("USD"))
        #expect(RechargeError.currencyMismatch(expected: "USD", got: "CNY").detail.contains("CNY"))
    }

    @Test("Codable round trip", arguments: allCases)
    func codableRoundTrip(error: RechargeError) throws {
        let data = try JSONEncoder().encode(error)
        let decoded = try JSONDecoder().decode(RechargeError.self, from: data)
        #expect(decoded == error)
        #expect(decoded.code == error.code)
        #expect(decoded.detail == error.detail)
    }

    @Test func codableRoundTripOfAnArray() throws {
        let errors: [RechargeError] = [
            .amountOverflow,
            .insufficientBalance(msisdn: "+14155550100", unit: "USD", available: -5, requested: .max),
            .illegalLineTransition(msisdn: "+14155550100", from: .terminated, to: .suspended),
            .invalidAmount("1,000", reason: "not a decimal number"),
        ]
        #expect(try JSONDecoder().decode([RechargeError].self, from: JSONEncoder().encode(errors)) == errors)
    }

    @Test func equality() {
        #expect(RechargeError.lineNotFound("a") == .lineNotFound("a"))
        #expect(RechargeError.lineNotFound("a") != .lineNotFound("b"))
        #expect(RechargeError.lineNotFound("a") != .lineAlreadyExists("a"))
    }
}
