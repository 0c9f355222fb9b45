/// The account a statement is for: an IBAN where the bank uses one, otherwise the bank's own account id.
public enum BankAccount: Hashable, Sendable, CustomStringConvertible {
    case iban(String)
    case other(String)

    public var description: String {
        switch self {
        case .iban(let iban): iban
        case .other(let id): id
        }
    }
}
