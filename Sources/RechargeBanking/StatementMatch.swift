/// One credit entry with its verdict.
public struct StatementMatch: Hashable, Sendable {
    public var entry: StatementEntry
    public var outcome: MatchOutcome

    public init(entry: StatementEntry, outcome: MatchOutcome) {
        self.entry = entry
        self.outcome = outcome
    }
}
