import Testing

@testable import RechargeMessaging

@Suite("SMTP replies and errors")
struct SMTPReplyParserTests {
    @Test func multiLineEHLOReplyIsOneReplyWithExtensions() throws {
        var parser = SMTPReplyParser()
        #expect(try parser.feed(line: "250-mail.example.com") == nil)
        #expect(try parser.feed(line: "250-SIZE 33554432") == nil)
        #expect(try parser.feed(line: "250-STARTTLS") == nil)
        let reply = try #require(try parser.feed(line: "250 AUTH LOGIN PLAIN"))
        #expect(reply.code == 250)
        #expect(reply.lines.count == 4)
        #expect(reply.extensions["AUTH"] == ["LOGIN", "PLAIN"])
        #expect(reply.extensions["STARTTLS"] == [])
        #expect(reply.extensions["SIZE"] == ["33554432"])
    }

    @Test func codeOnlyLineIsAReply() throws {
        var parser = SMTPReplyParser()
        #expect(try parser.feed(line: "354") == SMTPReply(code: 354, lines: [""]))
    }

    @Test func malformedLinesAreErrors() {
        var parser = SMTPReplyParser()
        #expect(throws: SMTPReplyParsingError.self) { try parser.feed(line: "hello") }
        #expect(throws: SMTPReplyParsingError.self) { try parser.feed(line: "250*x") }
        var mixed = SMTPReplyParser()
        _ = try? mixed.feed(line: "250-first")
        #expect(throws: SMTPReplyParsingError.self) { try mixed.feed(line: "251 second") }
    }

    @Test func permanenceFollowsTheReplyClass() {
        let permanent = SMTPError.rejected(stage: .rcptTo("a@b"), reply: SMTPReply(code: 550, lines: ["no"]))
        let transient = SMTPError.rejected(stage: .mailFrom, reply: SMTPReply(code: 451, lines: ["later"]))
        #expect(permanent.isPermanent)
        #expect(transient.isTransient)
        #expect(SMTPError.timeout(stage: .data).isTransient)
        #expect(SMTPError.connectionFailed("refused").isTransient)
        #expect(SMTPError.startTLSNotOffered.isPermanent)
        #expect(
            SMTPError.allRecipientsRejected([
                "a": SMTPReply(code: 550, lines: []), "b": SMTPReply(code: 452, lines: []),
            ]).isTransient)
    }
}
