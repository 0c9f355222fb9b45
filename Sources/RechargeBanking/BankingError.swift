import RechargeCore

/// Why a payment reference or a bank statement was refused. Each case names where the problem is
/// (statement and entry, or CSV line) so an operator can find it in the bank's file.
public enum BankingError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Text that is not an ISO 11649 creditor reference, or whose check digits are wrong.
    case invalidReference(String, reason: String)
    /// A creditor reference body that cannot be generated (empty, too long, not alphanumeric).
    case invalidReferenceBody(String, reason: String)
    /// The XML is not well-formed.
    case malformedXML(line: Int, column: Int, reason: String)
    /// Well-formed XML that is not a camt.053 bank-to-customer statement.
    case notCamt053(rootElement: String)
    /// A required element is absent; `location` names the statement and entry.
    case missingElement(String, location: String)
    /// An amount that is negative, malformed, has more decimals than the currency allows, or overflows.
    case invalidAmount(String, location: String, reason: String)
    /// A currency code that is not a supported ISO 4217 code.
    case unknownCurrency(String, location: String)
    /// A date that is not `YYYY-MM-DD` (optionally followed by a time).
    case invalidDate(String, location: String)
    /// An element or column holding a value outside its code list (e.g. CdtDbtInd other than CRDT/DBIT).
    case invalidValue(String, field: String, location: String)
    /// The CSV file is not valid UTF-8.
    case csvNotUTF8
    /// A CSV structure or content problem on a given (1-based, physical) line.
    case invalidCSV(line: Int, reason: String)

    /// A stable slug naming the kind of failure.
    public var code: String {
        switch self {
        case .invalidReference: "invalid-payment-reference"
        case .invalidReferenceBody: "invalid-payment-reference-body"
        case .malformedXML: "malformed-xml"
        case .notCamt053: "not-camt053"
        case .missingElement: "missing-element"
        case .invalidAmount: "invalid-statement-amount"
        case .unknownCurrency: "unknown-currency"
        case .invalidDate: "invalid-date"
        case .invalidValue: "invalid-value"
        case .csvNotUTF8: "csv-not-utf8"
        case .invalidCSV: "invalid-csv"
        }
    }

    /// What happened, with the values involved.
    public var detail: String {
        switch self {
        case .invalidReference(let text, let reason): "'\(text)' is not a valid RF creditor reference: \(reason)."
        case .invalidReferenceBody(let text, let reason): "Cannot make an RF creditor reference from '\(text)': \(reason)."
        case .malformedXML(let line, let column, let reason): "Malformed XML at line \(line), column \(column): \(reason)."
        case .notCamt053(let root): "The document is not a camt.053 statement (found <\(root)>)."
        case .missingElement(let path, let location): "\(location): required element \(path) is missing."
        case .invalidAmount(let text, let location, let reason): "\(location): amount '\(text)' is invalid: \(reason)."
        case .unknownCurrency(let code, let location): "\(location): '\(code)' is not a supported ISO 4217 currency code."
        case .invalidDate(let text, let location): "\(location): '\(text)' is not a date (YYYY-MM-DD)."
        case .invalidValue(let value, let field, let location): "\(location): '\(value)' is not a valid \(field)."
        case .csvNotUTF8: "The CSV file is not UTF-8 text."
        case .invalidCSV(let line, let reason): "CSV line \(line): \(reason)."
        }
    }

    public var description: String { "\(code): \(detail)" }
}
