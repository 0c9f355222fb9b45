import RechargeTestSupport
import Testing

// The voucher scenarios on both engines (PostgreSQL when RECHARGE_TEST_POSTGRES_URL is set).

@Suite("Vouchers on SQLite")
struct SQLiteVoucherStoreTests {
    @Test func batchLife() async throws { try await VoucherScenarios.batchLifeExportOnceAndRedeem(.sqlite) }
    @Test func exactlyOnce() async throws { try await VoucherScenarios.oneOfAHundredConcurrentRedemptionsWins(.sqlite) }
    @Test func refusals() async throws { try await VoucherScenarios.refusalsTellOnlyAMatchedCardsState(.sqlite) }
    @Test func ranges() async throws { try await VoucherScenarios.rangesMustLieInTheBatch(.sqlite) }
    @Test func dualApproval() async throws { try await VoucherScenarios.activationAboveTheThresholdNeedsASecondAdmin(.sqlite) }
    @Test func bruteForce() async throws { try await VoucherScenarios.guessingLocksOutLinesClientsAndChannels(.sqlite) }
    @Test func indexProbe() async throws { try await VoucherScenarios.lookupIsAnIndexProbe(.sqlite) }
    @Test func sharedBatch() async throws { try await VoucherScenarios.aSharedBatchDecidesEachClaimOnItsOwn(.sqlite) }
    @Test func packCards() async throws { try await VoucherScenarios.aPackCardGrantsThePack(.sqlite) }
    @Test func putBack() async throws { try await VoucherScenarios.aCardPutBackGoesToTheNextClaimant(.sqlite) }
    @Test func keyRotation() async throws { try await VoucherScenarios.cardsOfAPreviousKeyAreRedeemedAfterARotation(.sqlite) }
    @Test func concurrentGuessesOnOneLine() async throws { try await VoucherGuessingScenarios.concurrentGuessesOnOneLineReachTheCheckOnlyUpToTheLimit(.sqlite) }
    @Test func concurrentGuessesOverManyLines() async throws { try await VoucherGuessingScenarios.concurrentGuessesOverManyLinesReachTheCheckOnlyUpToTheBreaker(.sqlite) }
    @Test func goodPINAmongGuesses() async throws { try await VoucherGuessingScenarios.aGoodPINWithinTheLimitStillRedeems(.sqlite) }
    @Test func manyHonestRedemptionsAtOnce() async throws { try await VoucherGuessingScenarios.manyHonestRedemptionsAtOnceAreAllServed(.sqlite) }
    @Test func oneAccountLocksOnlyItself() async throws { try await VoucherGuessingScenarios.oneAccountLocksOnlyItself(.sqlite) }
    @Test func dualApprovalByKeysAndOSUsers() async throws { try await VoucherGuessingScenarios.dualApprovalComparesKeysAndOSUsers(.sqlite) }
    @Test func wrongPairCountsLikeWrongPIN() async throws { try await VoucherGuessingScenarios.aWrongPairCountsLikeAWrongPIN(.sqlite) }
    @Test func concurrentWrongPairs() async throws { try await VoucherGuessingScenarios.concurrentWrongPairsReachTheCheckOnlyUpToTheLimit(.sqlite) }
}

@Suite("Vouchers on PostgreSQL", .enabled(if: TestDatabase.postgresAvailable, "RECHARGE_TEST_POSTGRES_URL is not set: run scripts/test to start PostgreSQL"))
struct PostgresVoucherStoreTests {
    @Test func batchLife() async throws { try await VoucherScenarios.batchLifeExportOnceAndRedeem(.postgres) }
    @Test func exactlyOnce() async throws { try await VoucherScenarios.oneOfAHundredConcurrentRedemptionsWins(.postgres) }
    @Test func refusals() async throws { try await VoucherScenarios.refusalsTellOnlyAMatchedCardsState(.postgres) }
    @Test func ranges() async throws { try await VoucherScenarios.rangesMustLieInTheBatch(.postgres) }
    @Test func dualApproval() async throws { try await VoucherScenarios.activationAboveTheThresholdNeedsASecondAdmin(.postgres) }
    @Test func bruteForce() async throws { try await VoucherScenarios.guessingLocksOutLinesClientsAndChannels(.postgres) }
    @Test func indexProbe() async throws { try await VoucherScenarios.lookupIsAnIndexProbe(.postgres) }
    @Test func sharedBatch() async throws { try await VoucherScenarios.aSharedBatchDecidesEachClaimOnItsOwn(.postgres) }
    @Test func packCards() async throws { try await VoucherScenarios.aPackCardGrantsThePack(.postgres) }
    @Test func putBack() async throws { try await VoucherScenarios.aCardPutBackGoesToTheNextClaimant(.postgres) }
    @Test func keyRotation() async throws { try await VoucherScenarios.cardsOfAPreviousKeyAreRedeemedAfterARotation(.postgres) }
    @Test func concurrentGuessesOnOneLine() async throws { try await VoucherGuessingScenarios.concurrentGuessesOnOneLineReachTheCheckOnlyUpToTheLimit(.postgres) }
    @Test func concurrentGuessesOverManyLines() async throws { try await VoucherGuessingScenarios.concurrentGuessesOverManyLinesReachTheCheckOnlyUpToTheBreaker(.postgres) }
    @Test func goodPINAmongGuesses() async throws { try await VoucherGuessingScenarios.aGoodPINWithinTheLimitStillRedeems(.postgres) }
    @Test func manyHonestRedemptionsAtOnce() async throws { try await VoucherGuessingScenarios.manyHonestRedemptionsAtOnceAreAllServed(.postgres) }
    @Test func oneAccountLocksOnlyItself() async throws { try await VoucherGuessingScenarios.oneAccountLocksOnlyItself(.postgres) }
    @Test func dualApprovalByKeysAndOSUsers() async throws { try await VoucherGuessingScenarios.dualApprovalComparesKeysAndOSUsers(.postgres) }
    @Test func wrongPairCountsLikeWrongPIN() async throws { try await VoucherGuessingScenarios.aWrongPairCountsLikeAWrongPIN(.postgres) }
    @Test func concurrentWrongPairs() async throws { try await VoucherGuessingScenarios.concurrentWrongPairsReachTheCheckOnlyUpToTheLimit(.postgres) }
}
