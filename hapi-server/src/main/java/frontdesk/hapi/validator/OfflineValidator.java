package frontdesk.hapi.validator;

import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.context.support.DefaultProfileValidationSupport;
import ca.uhn.fhir.context.support.IValidationSupport;
import ca.uhn.fhir.parser.IParser;
import ca.uhn.fhir.validation.FhirValidator;
import ca.uhn.fhir.validation.ValidationResult;
import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.hl7.fhir.common.hapi.validation.support.CommonCodeSystemsTerminologyService;
import org.hl7.fhir.common.hapi.validation.support.InMemoryTerminologyServerValidationSupport;
import org.hl7.fhir.common.hapi.validation.support.SnapshotGeneratingValidationSupport;
import org.hl7.fhir.common.hapi.validation.support.UnknownCodeSystemWarningValidationSupport;
import org.hl7.fhir.common.hapi.validation.support.ValidationSupportChain;
import org.hl7.fhir.common.hapi.validation.validator.FhirInstanceValidator;
import org.hl7.fhir.r4.model.OperationOutcome;
import org.slf4j.LoggerFactory;

/**
 * The HAPI FHIR instance validator as a long-running filter, for frontdesk's tests:
 * each line on stdin is one FHIR R4 resource (JSON), each line on stdout the
 * OperationOutcome for it, in order. Runs with no network: R4 core definitions
 * from the classpath, terminology from the code systems and value sets bundled
 * with them plus HAPI's built-in common ones (languages, UCUM, MIME types ...).
 * A code system none of those knows (SNOMED CT, X12, local ones) cannot be
 * checked without a terminology server, so it is a warning, not an error.
 *
 * <p>Not part of the server: the same jar holds it so the tests need no second
 * build. Started with Spring Boot's PropertiesLauncher and
 * {@code -Dloader.main=frontdesk.hapi.validator.OfflineValidator}; EOF on stdin
 * ends it.
 */
public final class OfflineValidator {

    private OfflineValidator() {}

    public static void main(String[] args) throws Exception {
        // stdout carries the answers only: anything else that prints (logging,
        // libraries) goes to stderr.
        PrintStream answers = new PrintStream(System.out, true, StandardCharsets.UTF_8);
        System.setOut(System.err);
        ((Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME)).setLevel(Level.WARN);

        FhirContext context = FhirContext.forR4();
        FhirValidator validator = context.newValidator();
        validator.registerValidatorModule(new FhirInstanceValidator(supportChain(context)));
        IParser json = context.newJsonParser().setPrettyPrint(false);

        BufferedReader requests = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        String line;
        while ((line = requests.readLine()) != null) {
            if (line.isBlank()) {
                continue;
            }
            OperationOutcome outcome;
            try {
                // The raw text, not a parsed resource: HAPI's lenient parser would
                // drop unknown elements before the validator could see them.
                ValidationResult result = validator.validateWithResult(line);
                outcome = (OperationOutcome) result.toOperationOutcome();
            } catch (RuntimeException e) {
                outcome = new OperationOutcome();
                outcome.addIssue()
                        .setSeverity(OperationOutcome.IssueSeverity.FATAL)
                        .setCode(OperationOutcome.IssueType.EXCEPTION)
                        .setDiagnostics("validator failed: " + e);
            }
            answers.println(json.encodeResourceToString(outcome));
        }
    }

    static IValidationSupport supportChain(FhirContext context) {
        UnknownCodeSystemWarningValidationSupport unknownSystems = new UnknownCodeSystemWarningValidationSupport(context);
        unknownSystems.setNonExistentCodeSystemSeverity(IValidationSupport.IssueSeverity.WARNING);
        return new ValidationSupportChain(
                new DefaultProfileValidationSupport(context),
                new SnapshotGeneratingValidationSupport(context),
                new InMemoryTerminologyServerValidationSupport(context),
                new CommonCodeSystemsTerminologyService(context),
                // Last in the chain: answers only what nothing above could.
                unknownSystems);
    }
}
