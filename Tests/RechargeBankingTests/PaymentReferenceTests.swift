import Foundation
import Testing
@testable import RechargeBanking

@Suite("PaymentReference: ISO 11649 RF creditor references")
struct PaymentReferenceTests {
    /// The example published in ISO 11649.
    static let isoExample = "RF18539007547034"

    @Test func parsesTheISOExample() throws {
        let reference = try PaymentReference(Self.isoExample)
        #expect(reference.electronic == "RF18539007547034")
        #expect(reference.checkDigits == "18")
        #expect(reference.body == "539007547034")
        #expect(reference.printed == "RF18 5390 0754 7034")
        #expect(reference.description == "RF18539007547034")
    }

    @Test func computesTheISOExampleCheckDigits() throws {
        #expect(try PaymentReference(body: "539007547034").electronic == Self.isoExample)
        #expect(try PaymentReference(body: "539007547034") == PaymentReference(Self.isoExample))
    }

    @Test(arguments: [
        "rf18539007547034", "RF18 5390 0754 7034", "  RF18 5390 0754 7034  ", "RF18-5390-0754-7034",
        "RF 18 53900754 7034", "rf18\t5390  0754--7034", "RF18\u{00A0}5390\u{00A0}0754\u{00A0}7034",
        "ＲＦ１８５３９００７５４７０３４", "Rf18 5390 0754 7034",
    ])
    func acceptsWhatPayersType(_ typed: String) throws {
        #expect(try PaymentReference(typed).electronic == Self.isoExample)
    }

    @Test(arguments: [
        ("RF19539007547034", "check digits"), ("RF18539007547043", "check digits"), ("RF18539007547035", "check digits"),
        ("XX18539007547034", "RF"), ("RF18", "1 to 21"), ("RF181234567890123456789012", "1 to 21"),
        ("RF18 5390/0754 7034", "letters, digits"), ("RFAB539007547034", "not digits"), ("", "RF"),
        ("RF18 5390 0754 7034 ✓", "letters, digits"),
    ])
    func rejectsInvalidReferences(_ text: String, _ reasonFragment: String) {
        let error = #expect(throws: BankingError.self) { try PaymentReference(text) }
        guard case .invalidReference(let echoed, let reason) = error else {
            Issue.record("expected invalidReference, got \(String(describing: error))")
            return
        }
        #expect(echoed == text)
        #expect(reason.contains(reasonFragment), "\(reason)")
    }

    /// MOD 97-10 is guaranteed to catch a wrong digit for a digit or letter for a letter, and a swap of two
    /// neighbouring digits or two neighbouring letters. A letter for a digit changes the length of the
    /// numeric string, so that is only caught about 99 % of the time (`RF1853900754K034`, the ISO example
    /// with a K for a 7, happens to be valid), which is why random bodies avoid look-alike letters.
    @Test func everySameKindTypoIsCaught() throws {
        var generator = SplitMix64(seed: 11)
        let digits = Array("0123456789")
        let letters = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
        var references = [try PaymentReference(Self.isoExample)]
        for _ in 0..<100 { references.append(PaymentReference.random(using: &generator)) }
        var tried = 0
        for reference in references {
            let original = Array(reference.electronic)
            for position in 2..<original.count {
                let kind = original[position].isNumber ? digits : letters
                for replacement in kind where replacement != original[position] {
                    var typo = original
                    typo[position] = replacement
                    #expect(throws: BankingError.self) { try PaymentReference(String(typo)) }
                    tried += 1
                }
            }
        }
        #expect(tried > 14 * 9)
    }

    @Test func everySameKindNeighbourSwapIsCaught() throws {
        var generator = SplitMix64(seed: 7)
        for _ in 0..<200 {
            let reference = PaymentReference.random(using: &generator)
            let characters = Array(reference.electronic)
            for position in 2..<(characters.count - 1)
            where characters[position] != characters[position + 1] && characters[position].isNumber == characters[position + 1].isNumber {
                var swapped = characters
                swapped.swapAt(position, position + 1)
                #expect(throws: BankingError.self) { try PaymentReference(String(swapped)) }
            }
        }
    }

    @Test func aLetterForADigitCanSlipThrough() throws {
        #expect(try PaymentReference("RF1853900754K034").body == "53900754K034")
    }

    @Test func almostAllOtherTyposAreCaught() {
        var generator = SplitMix64(seed: 3)
        let alphabet = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")
        var caught = 0
        var tried = 0
        for _ in 0..<200 {
            let original = Array(PaymentReference.random(using: &generator).electronic)
            for position in 4..<original.count {
                var typo = original
                typo[position] = alphabet[Int(generator.next(upperBound: UInt64(alphabet.count)))]
                if typo[position].isNumber == original[position].isNumber { continue }
                tried += 1
                if (try? PaymentReference(String(typo))) == nil { caught += 1 }
            }
        }
        #expect(tried > 500)
        #expect(Double(caught) / Double(tried) > 0.97)
    }

    @Test func randomReferencesRoundTrip() throws {
        var generator = SplitMix64(seed: 20_240_305)
        var seen = Set<PaymentReference>()
        for length in [1, 4, 12, 16, 21] {
            for _ in 0..<300 {
                let reference = PaymentReference.random(length: length, using: &generator)
                #expect(reference.body.count == length)
                #expect(reference.body.allSatisfy { PaymentReference.randomAlphabet.contains($0) })
                #expect(try PaymentReference(reference.electronic) == reference)
                #expect(try PaymentReference(reference.printed) == reference)
                #expect(try PaymentReference(reference.printed.lowercased()) == reference)
                #expect(try PaymentReference(body: reference.body) == reference)
                // Another reading can be valid too (see trailingWordCanGiveASecondReading); the store decides.
                let grouped = PaymentReference.references(in: "Payment \(reference.printed), thanks")
                #expect(grouped.contains(reference) && grouped.count <= 2)
                let followed = PaymentReference.references(in: "Payment \(reference.electronic.lowercased()) thanks")
                #expect(followed.contains(reference) && followed.count <= 2)
                #expect(PaymentReference.references(in: "Payment \(reference.electronic).") == [reference])
                if length >= 12 { #expect(seen.insert(reference).inserted) }
            }
        }
    }

    @Test func sameSeedSameReferences() {
        var first = SplitMix64(seed: 42)
        var second = SplitMix64(seed: 42)
        let a = (0..<20).map { _ in PaymentReference.random(using: &first) }
        let b = (0..<20).map { _ in PaymentReference.random(using: &second) }
        #expect(a == b)
        #expect(Set(a).count == 20)
    }

    @Test func derivesFromOrderIDs() throws {
        let reference = try PaymentReference(orderID: "ord_abcdefghijkmnpqrstuvwxy")
        #expect(reference.body == "ORDABCDEFGHIJKMNPQRST")
        #expect(reference.body.count == PaymentReference.maximumBodyLength)
        #expect(try PaymentReference(orderID: "539007547034").electronic == Self.isoExample)
        #expect(try PaymentReference(orderID: "A-1") == PaymentReference(body: "A1"))
        #expect(throws: BankingError.self) { try PaymentReference(orderID: "___") }
    }

    @Test(arguments: ["", "1234567890123456789012", "AB_C", "充值"])
    func rejectsBadBodies(_ body: String) {
        let error = #expect(throws: BankingError.self) { try PaymentReference(body: body) }
        guard case .invalidReferenceBody(let echoed, _) = error else {
            Issue.record("expected invalidReferenceBody, got \(String(describing: error))")
            return
        }
        #expect(echoed == body)
    }

    @Test func findsReferencesInsideRemittanceText() throws {
        let iso = try PaymentReference(Self.isoExample)
        #expect(PaymentReference.references(in: "Payment RF18539007547034 thanks") == [iso])
        #expect(PaymentReference.references(in: "Payment RF18 5390 0754 7034 thanks") == [iso])
        #expect(PaymentReference.references(in: "payment rf18 5390 0754 7034 thanks") == [iso])
        #expect(PaymentReference.references(in: "/RFB/RF18539007547034/EREF/NOTPROVIDED") == [iso])
        #expect(PaymentReference.references(in: "Ref:RF18539007547034.") == [iso])
        #expect(PaymentReference.references(in: "充值RF18539007547034谢谢") == [iso])
        #expect(PaymentReference.references(in: "RF18539007547034") == [iso])
        let other = try PaymentReference(body: "ORD7K2M9Q4XPA")
        #expect(PaymentReference.references(in: "RF18539007547034 and \(other.printed) and RF18539007547034") == [iso, other])
    }

    @Test func ignoresTextThatOnlyLooksLikeAReference() {
        #expect(PaymentReference.references(in: "Payment RF19539007547034 thanks").isEmpty)  // typo
        #expect(PaymentReference.references(in: "TRANSFER for order 539007547034").isEmpty)
        #expect(PaymentReference.references(in: "XRF18539007547034").isEmpty)                 // glued to a word
        #expect(PaymentReference.references(in: "RF18539007547034THANKS").isEmpty)            // no break to cut at
        #expect(PaymentReference.references(in: "").isEmpty)
        #expect(PaymentReference.references(in: "RF").isEmpty)
        #expect(PaymentReference.references(in: "no reference here").isEmpty)
    }

    /// Whether `RF22…` + `THANKS` stays valid depends only on the check digits and the word, so every
    /// reference with check digits 22 has two readings when followed by "thanks".
    @Test func trailingWordCanGiveASecondReading() throws {
        let reference = try PaymentReference(body: "8VDF")
        #expect(reference.checkDigits == "22")
        let readings = PaymentReference.references(in: "Payment \(reference.electronic) thanks")
        let absorbed = try PaymentReference("RF228VDFTHANKS")
        #expect(readings == [absorbed, reference])
        let entry = StatementEntry(entryReference: "E", bookingDate: date("2024-03-05"), direction: .credit,
                                   amount: money("5", eur), remittance: RemittanceInformation(unstructured: ["Payment \(reference.electronic) thanks"]))
        let outcome = StatementMatcher.outcome(for: entry) { $0 == reference ? MatchTarget(orderID: "ord_1", expected: money("5", eur)) : nil }
        #expect(outcome == .matched(orderID: "ord_1", amount: money("5", eur)))
    }

    @Test func codableUsesTheElectronicForm() throws {
        let reference = try PaymentReference(Self.isoExample)
        let data = try JSONEncoder().encode([reference])
        #expect(String(decoding: data, as: UTF8.self) == "[\"RF18539007547034\"]")
        #expect(try JSONDecoder().decode([PaymentReference].self, from: data) == [reference])
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode([PaymentReference].self, from: Data("[\"RF19539007547034\"]".utf8))
        }
    }
}
