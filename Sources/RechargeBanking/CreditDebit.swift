/// Whether money came into the account (a payer's transfer) or left it.
public enum CreditDebit: String, Hashable, Sendable, Codable {
    case credit = "CRDT"
    case debit = "DBIT"
}
