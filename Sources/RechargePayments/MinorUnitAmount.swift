/// Conversion between the decimal strings some providers put on the wire ("12.34" yuan in Alipay's
/// `total_amount`) and the whole minor units (cents, fen) the ledger's edge works in. Exact, never rounding:
/// an amount that is not a whole number of minor units is an error, not something to round away.
public enum MinorUnitAmount {
    /// Parses `"12"`, `"12.3"`, `"12.34"` into 1200, 1230, 1234. Rejects signs, exponents, spaces, a
    /// missing integer or fraction part, more than `fractionDigits` decimals and anything beyond Int64.
    public static func parse(
        _ text: String, fractionDigits: Int = 2, field: String, provider: PaymentProvider
    ) throws(PaymentProviderError) -> Int64 {
        let invalid = PaymentProviderError.invalidAmount(provider, field: field, value: text)
        let parts = Array(text.utf8).split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard parts.count == 1 || parts.count == 2 else { throw invalid }
        let whole = parts[0]
        let fraction = parts.count == 2 ? parts[1] : []
        guard !whole.isEmpty, parts.count == 1 || !fraction.isEmpty, fraction.count <= fractionDigits else {
            throw invalid
        }
        var value: Int64 = 0
        let digits = Array(whole) + Array(fraction) + Array(repeating: UInt8(ascii: "0"), count: fractionDigits - fraction.count)
        for byte in digits {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { throw invalid }
            let (times10, o1) = value.multipliedReportingOverflow(by: 10)
            let (next, o2) = times10.addingReportingOverflow(Int64(byte - UInt8(ascii: "0")))
            guard !o1, !o2 else { throw invalid }
            value = next
        }
        return value
    }

    /// Writes minor units as the decimal string providers expect: 1234 → "12.34", 5 → "0.05".
    public static func decimalString(_ minorUnits: Int64, fractionDigits: Int = 2) -> String {
        precondition(minorUnits >= 0, "providers take positive amounts; refunds are separate requests")
        var divisor: Int64 = 1
        for _ in 0..<fractionDigits { divisor *= 10 }
        let fraction = String(minorUnits % divisor)
        let padded = String(repeating: "0", count: fractionDigits - fraction.count) + fraction
        return fractionDigits == 0 ? String(minorUnits / divisor) : "\(minorUnits / divisor).\(padded)"
    }
}
