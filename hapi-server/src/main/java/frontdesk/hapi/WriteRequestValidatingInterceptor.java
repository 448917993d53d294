package frontdesk.hapi;

import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.interceptor.api.Hook;
import ca.uhn.fhir.interceptor.api.Interceptor;
import ca.uhn.fhir.interceptor.api.Pointcut;
import ca.uhn.fhir.parser.DataFormatException;
import ca.uhn.fhir.rest.api.EncodingEnum;
import ca.uhn.fhir.rest.api.RestOperationTypeEnum;
import ca.uhn.fhir.rest.api.server.RequestDetails;
import ca.uhn.fhir.rest.server.RestfulServerUtils;
import ca.uhn.fhir.rest.server.interceptor.RequestValidatingInterceptor;
import ca.uhn.fhir.util.BundleUtil;
import ca.uhn.fhir.validation.FhirValidator;
import ca.uhn.fhir.validation.ResultSeverityEnum;
import ca.uhn.fhir.validation.ValidationResult;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Collections;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import org.hl7.fhir.instance.model.api.IBaseBundle;
import org.hl7.fhir.instance.model.api.IBaseResource;

/**
 * HAPI's request validation, limited to writes: a create or update of one of
 * {@code validatedTypes}, and every transaction Bundle (validated as a whole,
 * entries included, which costs far less per resource than one validation per
 * entry, and fits a transaction's all-or-nothing). A body with an error-level
 * issue is refused with 422 and the OperationOutcome; warnings never refuse.
 *
 * <p>Left alone: reads, searches and operations ({@code $validate} must answer
 * 200 with its findings); bodies HAPI's own parser refuses, which keep HAPI's
 * 400; and batches and PATCH, whose stored resources
 * {@link StoredResourceValidatingInterceptor} judges one by one (a request
 * whose body passed here is marked, so nothing is validated twice).
 */
@Interceptor
public class WriteRequestValidatingInterceptor extends RequestValidatingInterceptor {

    /** Request user-data key: set once the request body passed validation. */
    static final String BODY_VALIDATED = WriteRequestValidatingInterceptor.class.getName() + ".validated";

    private static final Set<RestOperationTypeEnum> SINGLE_WRITES =
            Set.of(RestOperationTypeEnum.CREATE, RestOperationTypeEnum.UPDATE);

    /** How many passed bodies to remember (a seed load is a handful of transactions). */
    private static final int REMEMBERED_BODIES = 256;

    private final FhirContext context;
    private final Set<String> validatedTypes;
    private final Map<String, ValidationResult> passedBodies = Collections.synchronizedMap(
            new LinkedHashMap<>(16, 0.75f, true) {
                @Override
                protected boolean removeEldestEntry(Map.Entry<String, ValidationResult> eldest) {
                    return size() > REMEMBERED_BODIES;
                }
            });

    public WriteRequestValidatingInterceptor(FhirContext context, FhirValidator validator, Set<String> validatedTypes) {
        this.context = context;
        this.validatedTypes = Set.copyOf(validatedTypes);
        setValidator(validator);
        setFailOnSeverity(ResultSeverityEnum.ERROR);
        // Answers stay as they were: no issue headers, no issues merged into responses.
        setAddResponseHeaderOnSeverity(null);
        setAddResponseOutcomeHeaderOnSeverity(null);
        setAddValidationResultsToResponseOperationOutcome(false);
    }

    @Override
    @Hook(Pointcut.SERVER_INCOMING_REQUEST_POST_PROCESSED)
    public boolean incomingRequestPostProcessed(
            RequestDetails request, HttpServletRequest servletRequest, HttpServletResponse servletResponse) {
        if (!isValidatedWrite(request)) {
            return true;
        }
        boolean result = super.incomingRequestPostProcessed(request, servletRequest, servletResponse);
        // Reached only when the body passed: the stored resources need no second look.
        request.getUserData().put(BODY_VALIDATED, Boolean.TRUE);
        return result;
    }

    /**
     * A body that passed once passes again: the verdict depends on the body and
     * the R4 definitions, which don't change while the server runs. Re-sent seed
     * transactions (a seed load is idempotent and tests repeat it) cost a hash.
     */
    @Override
    protected ValidationResult validate(String body, RequestDetails request) {
        String key = sha256(body);
        ValidationResult passed = passedBodies.get(key);
        if (passed == null) {
            passed = super.validate(body, request); // throws 422 when it does not pass
            passedBodies.put(key, passed);
        }
        return passed;
    }

    private static String sha256(String body) {
        try {
            MessageDigest digest = MessageDigest.getInstance("SHA-256");
            return HexFormat.of().formatHex(digest.digest(body.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JVM has SHA-256", e);
        }
    }

    /** A create/update of a validated type, or a transaction, whose body HAPI can read. */
    private boolean isValidatedWrite(RequestDetails request) {
        RestOperationTypeEnum operation = request.getRestOperationType();
        boolean single = SINGLE_WRITES.contains(operation) && validatedTypes.contains(request.getResourceName());
        // HAPI binds transaction and batch to one operation; the Bundle's type tells them apart.
        if (!single && operation != RestOperationTypeEnum.TRANSACTION) {
            return false;
        }
        IBaseResource body = parsedBody(request);
        if (body == null) {
            return false; // HAPI's parser refuses it and answers 400 itself
        }
        return single || isTransactionBundle(body);
    }

    private IBaseResource parsedBody(RequestDetails request) {
        EncodingEnum encoding = RestfulServerUtils.determineRequestEncodingNoDefault(request);
        byte[] body = request.loadRequestContents();
        if (encoding == null || body == null || body.length == 0) {
            return null;
        }
        try {
            return encoding.newParser(context).parseResource(new String(body, StandardCharsets.UTF_8));
        } catch (DataFormatException | IllegalArgumentException e) {
            return null;
        }
    }

    private boolean isTransactionBundle(IBaseResource body) {
        return body instanceof IBaseBundle bundle && "transaction".equals(BundleUtil.getBundleType(context, bundle));
    }
}
