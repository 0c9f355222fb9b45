import Testing
@testable import RechargeBanking

@Suite struct PaymentReferenceTests {
    @Test func isoExample() throws {
        let reference = try PaymentReference("RF18539007547034")
        #expect(reference.printed == "RF18 5390 0754 7034")
    }
}
