import SluiceCore
import SluiceTestKit
import Testing

@Suite struct ConditionExpressionTests {
    func value(_ text: String, result: MetricValue = .number(0.5)) throws -> Bool {
        try ConditionExpression(text).isTrue(result: result)
    }

    @Test(arguments: [
        ("result >= 0.99", 0.995, true),
        ("result >= 0.99", 0.98, false),
        ("result < 0.95 || result > 2", 3.0, true),
        // && binds tighter than ||.
        ("true || false && false", 0.0, true),
        ("(true || false) && false", 0.0, false),
        // ! binds tighter than &&.
        ("!false && false", 0.0, false),
        ("!(false && false)", 0.0, true),
        // Arithmetic binds tighter than comparison, * tighter than +.
        ("result * 100 >= 99", 0.99, true),
        ("1 + 2 * 3 == 7", 0.0, true),
        ("(1 + 2) * 3 == 9", 0.0, true),
        ("10 - 4 - 3 == 3", 0.0, true),
        ("8 / 4 / 2 == 1", 0.0, true),
        ("-result < 0", 1.0, true),
        ("result == 1e-3", 0.001, true),
        ("result != result", Double.nan, true),
        ("isNaN(result)", Double.nan, true),
        ("!isNaN(result) && result <= 500", 250.0, true),
        ("result > 1 == true", 2.0, true),
        ("len(result) == 1", 7.0, true),
    ])
    func evaluatesWithPrecedence(text: String, result: Double, expected: Bool) throws {
        #expect(try value(text, result: .number(result)) == expected)
    }

    @Test func indexesSeveralSamples() throws {
        let samples = MetricValue.samples([0.99, 0.97, 0.5])
        #expect(try value("len(result) == 3", result: samples))
        #expect(try value("result[0] >= 0.99 && result[1] >= 0.95", result: samples))
        #expect(try !value("result[2] > 0.9", result: samples))
        #expect(try value("result[0] - result[1] <= 0.05", result: samples))
        // One sample reads as a number.
        #expect(try value("result == 0.9", result: .samples([0.9])))
    }

    @Test(arguments: [
        ("", 1, "empty"),
        ("result >=", 10, "expected a value, found the end of the condition"),
        ("result >= 0.99 &&", 18, "expected a value"),
        ("reslt > 1", 1, "unknown name 'reslt'"),
        ("result > 1 )", 12, "unexpected ')' after a complete expression"),
        ("(result > 1", 12, "expected ')' to close the '(' at column 1"),
        ("result[0 > 1", 13, "expected ']' to close the '[' at column 7"),
        ("result = 1", 8, "unexpected character '='"),
        ("result > 1 & true", 12, "unexpected character '&'"),
        ("result > 1.2.3", 10, "'1.2.3' is not a number"),
        ("isNaN result", 7, "expected '(' after isNaN"),
        ("result @ 1", 8, "unexpected character '@'"),
    ])
    func parseErrorsCarryTheColumn(text: String, column: Int, message: String) {
        do {
            _ = try ConditionExpression(text)
            Issue.record("'\(text)' parsed")
        } catch {
            #expect(error.column == column, "\(error)")
            #expect(error.message.contains(message), "\(error)")
        }
    }

    @Test(arguments: [
        ("result[0] > 1", MetricValue.number(1), "only a list of several samples can be indexed"),
        ("result[5] > 1", MetricValue.samples([1, 2]), "index 5 is outside the 2 samples"),
        ("result[0.5] > 1", MetricValue.samples([1, 2]), "index 0.5 is outside"),
        ("result > 1", MetricValue.samples([1, 2]), "'>' cannot combine a list and a number"),
        ("result + 1", MetricValue.number(1), "gives a number, not true or false"),
        ("result && true", MetricValue.number(1), "'&&' needs true or false, not a number"),
        ("!result", MetricValue.number(1), "'!' needs true or false"),
        ("isNaN(true)", MetricValue.number(1), "isNaN() does not take true or false"),
    ])
    func evaluationErrorsAreErrorsNotVerdicts(text: String, result: MetricValue, message: String) throws {
        let condition = try ConditionExpression(text)
        do {
            _ = try condition.isTrue(result: result)
            Issue.record("'\(text)' evaluated")
        } catch {
            #expect(error.message.contains(message), "\(error)")
        }
    }

    @Test func shortCircuitsSoGuardsWork() throws {
        // The right side would be an index error on one sample; && never evaluates it.
        #expect(try !value("len(result) > 1 && result[1] > 0", result: .number(1)))
        #expect(try value("len(result) == 1 || result[1] > 0", result: .number(1)))
    }

    @Test func deepNestingIsAnErrorNotACrash() throws {
        for text in [String(repeating: "(", count: 100_000) + "1",
                     String(repeating: "!", count: 100_000) + "true",
                     String(repeating: "-", count: 10_000) + "1 > 0",
                     "result" + String(repeating: "[0]", count: 2000)] {
            #expect(throws: ConditionError.self) { try ConditionExpression(text) }
        }
        let nested = String(repeating: "(", count: 20) + "result > 0" + String(repeating: ")", count: 20)
        #expect(try value(nested, result: .number(1)))
    }

    /// Ten thousand random inputs, built from the language's own tokens and from arbitrary
    /// characters: each parses or fails with a column inside the input, and each parsed one
    /// evaluates or fails, without crashing or hanging.
    @Test func randomInputsNeverCrashOrHang() {
        var rng = SplitMix64(seed: 0x5115_CE)
        let pieces = ["result", "result[", "]", "0", "1", "0.99", "1e3", "-", "+", "*", "/", "(", ")", "&&", "||", "!",
                      "==", "!=", "<", "<=", ">", ">=", "true", "false", "isNaN(", "len(", " ", ",", "[", "x", "=", "&"]
        let scalars: [Unicode.Scalar] = ["a", "(", ")", "[", "]", "!", "&", "|", "<", ">", "=", ".", "e", "9", " ", "\u{0}",
                                         "é", "\u{1F600}", "\"", "{", "}"]
        var parsed = 0
        for i in 0..<10_000 {
            var text = ""
            let length = Int(rng.next() % 24)
            for _ in 0..<length {
                if i % 2 == 0 {
                    text += pieces[Int(rng.next() % UInt64(pieces.count))]
                } else {
                    text.unicodeScalars.append(scalars[Int(rng.next() % UInt64(scalars.count))])
                }
            }
            do {
                let condition = try ConditionExpression(text)
                parsed += 1
                for result in [MetricValue.number(0.5), .number(.nan), .samples([1, 2, 3])] {
                    _ = try? condition.isTrue(result: result)
                }
            } catch {
                #expect(error.column >= 1 && error.column <= text.unicodeScalars.count + 1, "'\(text)': \(error)")
            }
        }
        #expect(parsed > 50, "the generator should produce some valid conditions, produced \(parsed)")
    }
}
