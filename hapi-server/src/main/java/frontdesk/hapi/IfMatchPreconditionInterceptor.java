package frontdesk.hapi;

import ca.uhn.fhir.interceptor.api.Hook;
import ca.uhn.fhir.interceptor.api.Interceptor;
import ca.uhn.fhir.interceptor.api.Pointcut;
import ca.uhn.fhir.rest.server.exceptions.BaseServerResponseException;
import ca.uhn.fhir.rest.server.exceptions.PreconditionFailedException;
import ca.uhn.fhir.rest.server.exceptions.ResourceVersionConflictException;

/**
 * Answers an update whose If-Match names a version that is no longer current
 * with 412 Precondition Failed, as FHIR's "managing resource contention" section
 * says, instead of HAPI's 409 Conflict.
 *
 * <p>HAPI turns the If-Match header (or a transaction entry's request.ifMatch)
 * into the version of the id being updated; its DAO rejects a stale one with
 * HAPI-0989 "... is not the current version" as a ResourceVersionConflictException
 * (409), re-thrown wrapped as "HAPI-0550: HAPI-0989: ...". Only that case is
 * rewritten; other 409s (e.g. deleting a referenced resource) stay 409. The
 * per-entry status inside a batch-response is built elsewhere and stays 409.
 */
@Interceptor
public class IfMatchPreconditionInterceptor {

    /** HAPI's message code for "the version you named is not the current one". */
    private static final String STALE_VERSION_CODE = "HAPI-0989";

    @Hook(Pointcut.SERVER_PRE_PROCESS_OUTGOING_EXCEPTION)
    public BaseServerResponseException staleIfMatchIs412(Throwable exception) {
        if (exception instanceof ResourceVersionConflictException conflict
                && conflict.getMessage() != null
                && conflict.getMessage().contains(STALE_VERSION_CODE)) {
            return new PreconditionFailedException(conflict.getMessage(), conflict.getOperationOutcome());
        }
        return null; // leave every other exception as it is
    }
}
