import RechargePayments
import Testing

@Suite struct MinorUnitAmountTests {
    @Test(arguments: [
        ("12.34", 1234), ("12.3", 1230), ("12", 1200), ("0.01", 1), ("0.00", 0), ("012.50", 1250),
        ("92233720368547758.07", Int64.max),
    ] as [(String, Int64)])
    func exactAmountsParse(text: String, fen: Int64) throws {
        #expect(try MinorUnitAmount.parse(text, field: "total_amount", provider: .alipay) == fen)
    }

    @Test(arguments: [
        "", "1.234", "0.001", ".5", "5.", "-1.00", "+1.00", "1e2", " 1.00", "1.00 ", "1,00", "1.2.3", "abc",
        "92233720368547758.08", "99999999999999999999",
    ])
    func inexactOrMalformedAmountsAreRejected(text: String) {
        #expect(throws: PaymentProviderError.invalidAmount(.alipay, field: "total_amount", value: text)) {
            try MinorUnitAmount.parse(text, field: "total_amount", provider: .alipay)
        }
    }

    @Test func decimalStringWritesTwoPlaces() {
        #expect(MinorUnitAmount.decimalString(1234) == "12.34")
        #expect(MinorUnitAmount.decimalString(5) == "0.05")
        #expect(MinorUnitAmount.decimalString(100) == "1.00")
        #expect(MinorUnitAmount.decimalString(0) == "0.00")
    }
}
