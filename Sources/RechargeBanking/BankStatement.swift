import RechargeCore

/// One bank statement as imported from a camt.053 file or a CSV export: the account it covers and the
/// booked entries, ready to be de-duplicated by ``StatementEntry/entryReference`` and matched to orders.
public struct BankStatement: Hashable, Sendable {
    /// The bank's id for this statement (camt.053 `Stmt/Id`; for CSV, whatever the caller names the file).
    public var statementID: String
    public var account: BankAccount
    /// The account currency when the statement states it (camt.053 `Acct/Ccy`) or all entries share one.
    public var currency: Currency?
    /// Booked entries only; a batch booking is already split into one entry per transaction.
    public var entries: [StatementEntry]
    /// What the parser left out or found odd, for the operator's import report.
    public var notes: [StatementNote]

    public init(statementID: String, account: BankAccount, currency: Currency?, entries: [StatementEntry], notes: [StatementNote] = []) {
        self.statementID = statementID
        self.account = account
        self.currency = currency
        self.entries = entries
        self.notes = notes
    }
}
