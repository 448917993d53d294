package frontdesk.hapi;

import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.interceptor.api.Hook;
import ca.uhn.fhir.interceptor.api.Interceptor;
import ca.uhn.fhir.interceptor.api.Pointcut;
import ca.uhn.fhir.rest.api.server.RequestDetails;
import ca.uhn.fhir.rest.server.exceptions.UnprocessableEntityException;
import ca.uhn.fhir.validation.FhirValidator;
import ca.uhn.fhir.validation.ResultSeverityEnum;
import ca.uhn.fhir.validation.ValidationResult;
import java.util.Set;
import org.hl7.fhir.instance.model.api.IBaseResource;

/**
 * Validates, just before storage, each resource of a validated type whose
 * request body {@link WriteRequestValidatingInterceptor} did not validate:
 * <ul>
 *   <li>PATCH: the body is a patch document, not a resource, so the patched
 *       resource is checked (a patch removing Appointment.status is refused);
 *   <li>batch entries: each entry of a batch stands alone, so one invalid
 *       entry must fail that entry (its response carries the 422), not the
 *       whole Bundle as it does in a transaction.
 * </ul>
 * An error-level issue refuses the write with 422 and the OperationOutcome, as
 * request validation does; HAPI rolls the write back.
 */
@Interceptor
public class StoredResourceValidatingInterceptor {

    private final FhirContext context;
    private final FhirValidator validator;
    private final Set<String> validatedTypes;

    public StoredResourceValidatingInterceptor(
            FhirContext context, FhirValidator validator, Set<String> validatedTypes) {
        this.context = context;
        this.validator = validator;
        this.validatedTypes = Set.copyOf(validatedTypes);
    }

    @Hook(Pointcut.STORAGE_PRESTORAGE_RESOURCE_CREATED)
    public void created(IBaseResource resource, RequestDetails request) {
        check(resource, request);
    }

    @Hook(Pointcut.STORAGE_PRESTORAGE_RESOURCE_UPDATED)
    public void updated(IBaseResource previous, IBaseResource resource, RequestDetails request) {
        check(resource, request);
    }

    private void check(IBaseResource resource, RequestDetails request) {
        // No request: HAPI's own internal writes, which are not ours to judge.
        if (request == null
                || request.getUserData().containsKey(WriteRequestValidatingInterceptor.BODY_VALIDATED)
                || !validatedTypes.contains(context.getResourceType(resource))) {
            return;
        }
        ValidationResult result = validator.validateWithResult(resource);
        boolean refused = result.getMessages().stream()
                .anyMatch(m -> m.getSeverity().ordinal() >= ResultSeverityEnum.ERROR.ordinal());
        if (refused) {
            throw new UnprocessableEntityException(context, result.toOperationOutcome());
        }
    }
}
