import RechargeTestSupport
import Testing

// The same scenarios on both engines. The PostgreSQL suite needs a server: scripts/test starts one and
// sets RECHARGE_TEST_POSTGRES_URL; without it the suite is reported as skipped.

@Suite("Ledger store on SQLite")
struct SQLiteLedgerStoreTests {
    @Test func migrations() async throws { try await LedgerScenarios.migrationsAreRecordedAndIdempotent(.sqlite) }
    @Test func openingLines() async throws { try await LedgerScenarios.openingLines(.sqlite) }
    @Test func topUpOnce() async throws { try await LedgerScenarios.topUpCreditsMainBalanceOnce(.sqlite) }
    @Test func rejectedInput() async throws { try await LedgerScenarios.rejectedInputChangesNothing(.sqlite) }
    @Test func consumptionOrder() async throws { try await LedgerScenarios.debitsFollowConsumptionOrder(.sqlite) }
    @Test func storedRejection() async throws { try await LedgerScenarios.rejectionIsStoredWithItsKey(.sqlite) }
    @Test func creditLimit() async throws { try await LedgerScenarios.creditLimitBoundsDebits(.sqlite) }
    @Test func lineStatus() async throws { try await LedgerScenarios.lineStatusGatesValue(.sqlite) }
    @Test func history() async throws { try await LedgerScenarios.historyPagesNewestFirst(.sqlite) }
    @Test func concurrentDebits() async throws { try await LedgerScenarios.concurrentDebitsNeverOverdraw(.sqlite) }
    @Test func concurrentRetries() async throws { try await LedgerScenarios.concurrentRetriesApplyOnce(.sqlite) }
    @Test func concurrentMixed() async throws { try await LedgerScenarios.concurrentMixedTrafficStaysExact(.sqlite) }
    @Test func concurrentOpens() async throws { try await LedgerScenarios.concurrentOpensOfOneNumber(.sqlite) }
    @Test func apiKeys() async throws { try await LedgerScenarios.apiKeysVerifyAndRevoke(.sqlite) }
    @Test func groupCommitBatches() async throws { try await LedgerScenarios.concurrentRequestsShareTransactions(.sqlite) }
    @Test func balanceReadsCoalesce() async throws { try await LedgerScenarios.concurrentBalanceInquiriesShareQueries(.sqlite) }
    @Test func batchDecidesEachRequest() async throws { try await LedgerScenarios.batchDecidesEachRequestOnItsOwn(.sqlite) }
    @Test func failingOperationIsolated() async throws { try await LedgerScenarios.oneFailingOperationDoesNotFailItsNeighbours(.sqlite) }
    @Test func twoNodes() async throws { try await LedgerScenarios.twoNodesShareLinesSafely(.sqlite) }
    @Test func auditDetectsTampering() async throws { try await LedgerScenarios.auditDetectsTampering(.sqlite) }
}

@Suite("Ledger store on PostgreSQL", .enabled(if: TestDatabase.postgresAvailable, "RECHARGE_TEST_POSTGRES_URL is not set: run scripts/test to start PostgreSQL"))
struct PostgresLedgerStoreTests {
    @Test func migrations() async throws { try await LedgerScenarios.migrationsAreRecordedAndIdempotent(.postgres) }
    @Test func openingLines() async throws { try await LedgerScenarios.openingLines(.postgres) }
    @Test func topUpOnce() async throws { try await LedgerScenarios.topUpCreditsMainBalanceOnce(.postgres) }
    @Test func rejectedInput() async throws { try await LedgerScenarios.rejectedInputChangesNothing(.postgres) }
    @Test func consumptionOrder() async throws { try await LedgerScenarios.debitsFollowConsumptionOrder(.postgres) }
    @Test func storedRejection() async throws { try await LedgerScenarios.rejectionIsStoredWithItsKey(.postgres) }
    @Test func creditLimit() async throws { try await LedgerScenarios.creditLimitBoundsDebits(.postgres) }
    @Test func lineStatus() async throws { try await LedgerScenarios.lineStatusGatesValue(.postgres) }
    @Test func history() async throws { try await LedgerScenarios.historyPagesNewestFirst(.postgres) }
    @Test func concurrentDebits() async throws { try await LedgerScenarios.concurrentDebitsNeverOverdraw(.postgres) }
    @Test func concurrentRetries() async throws { try await LedgerScenarios.concurrentRetriesApplyOnce(.postgres) }
    @Test func concurrentMixed() async throws { try await LedgerScenarios.concurrentMixedTrafficStaysExact(.postgres) }
    @Test func concurrentOpens() async throws { try await LedgerScenarios.concurrentOpensOfOneNumber(.postgres) }
    @Test func apiKeys() async throws { try await LedgerScenarios.apiKeysVerifyAndRevoke(.postgres) }
    @Test func groupCommitBatches() async throws { try await LedgerScenarios.concurrentRequestsShareTransactions(.postgres) }
    @Test func balanceReadsCoalesce() async throws { try await LedgerScenarios.concurrentBalanceInquiriesShareQueries(.postgres) }
    @Test func batchDecidesEachRequest() async throws { try await LedgerScenarios.batchDecidesEachRequestOnItsOwn(.postgres) }
    @Test func failingOperationIsolated() async throws { try await LedgerScenarios.oneFailingOperationDoesNotFailItsNeighbours(.postgres) }
    @Test func twoNodes() async throws { try await LedgerScenarios.twoNodesShareLinesSafely(.postgres) }
    @Test func lockOrder() async throws { try await LedgerScenarios.batchesNeverWaitOnForeignKeyLocks(.postgres) }
    @Test func auditDetectsTampering() async throws { try await LedgerScenarios.auditDetectsTampering(.postgres) }
}
