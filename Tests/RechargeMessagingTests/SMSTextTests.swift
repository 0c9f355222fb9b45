import Testing

@testable import RechargeMessaging

@Suite("SMS encoding and splitting")
struct SMSTextTests {
    @Test func gsm7RoundTripsBasicAndExtensionCharacters() throws {
        let text = "Recharge @ £5 ¥ è é Δ Ω ß {x} [y] ~ | \\ ^ € ok"
        let septets = try #require(GSM7Alphabet.encode(text))
        #expect(septets.allSatisfy { $0 < 0x80 })
        #expect(GSM7Alphabet.decode(septets) == text)
        #expect(GSM7Alphabet.septets(for: "€") == [0x1B, 0x65])
        #expect(GSM7Alphabet.septets(for: "@") == [0x00])
        #expect(GSM7Alphabet.encode("充值") == nil)
    }

    @Test func extensionCharactersCostTwoSeptets() {
        #expect(SMSText.units(of: "€[]{}") == 10)
        #expect(SMSText.units(of: "abc") == 3)
    }

    @Test func exactly160GSMCharactersFitOneMessage() throws {
        let text = try SMSText(String(repeating: "a", count: 160))
        #expect(text.dataCoding == .gsm7)
        #expect(text.parts.count == 1)
        #expect(text.parts[0].payload.count == 160)
    }

    @Test func gsm161CharactersNeedTwoPartsOf153AndEight() throws {
        let text = try SMSText(String(repeating: "a", count: 161))
        #expect(text.parts.map(\.payload.count) == [153, 8])
        #expect(SMSText.partCount(for: String(repeating: "a", count: 161)) == 2)
    }

    @Test func exactly70ChineseCharactersFitOneMessage() throws {
        let text = try SMSText(String(repeating: "充", count: 70))
        #expect(text.dataCoding == .ucs2)
        #expect(text.parts.count == 1)
        #expect(text.parts[0].payload.count == 140)
    }

    @Test func ucs2With71CharactersSplitsSixtySevenAndFour() throws {
        let text = try SMSText(String(repeating: "值", count: 71))
        #expect(text.parts.map { $0.text.count } == [67, 4])
        #expect(text.parts.map(\.payload.count) == [134, 8])
    }

    @Test func ucs2PayloadIsUTF16BigEndian() throws {
        let text = try SMSText("充值")
        // 充 U+5145, 值 U+503C
        #expect(text.parts[0].payload == [0x51, 0x45, 0x50, 0x3C])
        #expect(SMSText.decode(text.parts[0].payload, coding: .ucs2) == "充值")
    }

    @Test func extensionEscapeIsNeverCutFromItsCharacter() throws {
        // 152 septets, then € (2 septets) would end at 154 > 153: it must move whole to part two.
        let source = String(repeating: "a", count: 152) + "€" + String(repeating: "b", count: 10)
        let text = try SMSText(source)
        #expect(text.parts.count == 2)
        #expect(text.parts[0].payload.count == 152)
        #expect(text.parts[0].payload.last != GSM7Alphabet.escape)
        #expect(Array(text.parts[1].payload.prefix(2)) == [0x1B, 0x65])
        #expect(text.parts.map(\.text).joined() == source)
    }

    @Test func emojiWithSkinToneStaysInOnePart() throws {
        // 66 units of Chinese, then 👍🏽 (four UTF-16 units) would cross the 67-unit boundary.
        let source = String(repeating: "充", count: 66) + "👍🏽" + String(repeating: "值", count: 10)
        let text = try SMSText(source)
        #expect(text.parts.count == 2)
        #expect(text.parts[0].text == String(repeating: "充", count: 66))
        #expect(text.parts[1].text.hasPrefix("👍🏽"))
        for part in text.parts {
            let last = UInt16(part.payload[part.payload.count - 2]) << 8 | UInt16(part.payload[part.payload.count - 1])
            #expect(!UTF16.isLeadSurrogate(last), "a part ends in the middle of a surrogate pair")
        }
        #expect(text.parts.map(\.text).joined() == source)
    }

    @Test func surrogatePairAtTheBoundaryIsNotSplit() throws {
        let source = String(repeating: "a", count: 66) + "😀" + "充" + String(repeating: "b", count: 5)
        let text = try SMSText(source)
        #expect(text.parts[0].text.utf16.count == 66)
        #expect(text.parts[1].text.hasPrefix("😀"))
    }

    @Test func clusterLongerThanAPartIsSplitBetweenScalarsOnly() throws {
        // 40 regional-indicator-free ZWJ pieces make one grapheme of well over 67 code units.
        let giant = Array(repeating: "👩", count: 40).joined(separator: "\u{200D}")
        #expect(giant.count == 1)
        let text = try SMSText(giant)
        #expect(text.parts.count > 1)
        #expect(text.parts.allSatisfy { $0.text.utf16.count <= SMSText.concatenatedUCS2Units })
        #expect(text.parts.map(\.text).joined() == giant)
    }

    @Test func threeUCS2PartsForATemplateSizedChineseText() {
        #expect(SMSText.partCount(for: String(repeating: "充", count: 134)) == 2)
        #expect(SMSText.partCount(for: String(repeating: "充", count: 135)) == 3)
        #expect(SMSText.partCount(for: "") == 1)
    }

    @Test func tooLongForAnyUDHIsRefused() {
        #expect(throws: SMSText.Failure.tooManyParts(needed: 256)) {
            try SMSText(String(repeating: "a", count: 255 * 153 + 1))
        }
    }

    @Test func concatenationHeaderRoundTrips() throws {
        let header = ConcatenationHeader(reference: 0xA7, totalParts: 3, partNumber: 2)
        #expect(header.bytes == [0x05, 0x00, 0x03, 0xA7, 0x03, 0x02])
        let parsed = try #require(ConcatenationHeader.parse(header.bytes + [0x51, 0x45]))
        #expect(parsed.header == header)
        #expect(parsed.body == [0x51, 0x45])
    }
}
