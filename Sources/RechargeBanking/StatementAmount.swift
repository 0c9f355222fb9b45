import RechargeCore

/// Exact parsing of the amounts banks write, shared by the camt.053 and CSV importers.
enum StatementAmount {
    /// A plain unsigned decimal (`"12.34"`, `"500"`) in `currency`, with no more fraction digits than the
    /// currency's minor unit: a bank never books a fraction of a cent, so `"1.005"` USD means a broken file.
    static func parse(_ text: String, currency: Currency, location: String) throws(BankingError) -> Money {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        let isDigits: (Substring) -> Bool = { !$0.isEmpty && $0.utf8.allSatisfy { $0 >= 0x30 && $0 <= 0x39 } }
        guard parts.count <= 2, isDigits(parts[0]), parts.count == 1 || isDigits(parts[1]) else {
            let reason = text.hasPrefix("-") ? "negative amounts are not allowed here" : "not a decimal number"
            throw .invalidAmount(text, location: location, reason: reason)
        }
        if parts.count == 2, parts[1].count > currency.minorUnitDigits {
            throw .invalidAmount(text, location: location,
                                 reason: "\(currency.code) has \(currency.minorUnitDigits) decimal places")
        }
        do {
            return try Money(decimal: text, currency: currency)
        } catch {
            throw .invalidAmount(text, location: location, reason: error.detail)
        }
    }

    static func currency(_ code: String, location: String) throws(BankingError) -> Currency {
        do { return try Currency(code: code) } catch { throw .unknownCurrency(code, location: location) }
    }
}
