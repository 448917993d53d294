package frontdesk.hapi;

import ca.uhn.fhir.batch2.api.IJobMaintenanceService;
import ca.uhn.fhir.batch2.jobs.export.BulkDataExportProvider;
import ca.uhn.fhir.batch2.maintenance.JobMaintenanceServiceImpl;
import ca.uhn.fhir.jpa.api.config.JpaStorageSettings;
import ca.uhn.fhir.rest.server.RestfulServer;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.context.annotation.Configuration;

/**
 * FHIR Bulk Data export ({@code [base]/$export}, {@code Patient/$export}, {@code Group/$export}
 * and {@code $export-poll-status}) on HAPI's own provider, which JpaConfig already defines
 * as a bean; once registered the CapabilityStatement declares the operations. frontdesk's
 * person index reads every Patient of an EHR this way.
 */
@Configuration
public class BulkExportConfig {

    @Autowired
    void enableBulkExport(
            RestfulServer server,
            BulkDataExportProvider bulkExport,
            JpaStorageSettings settings,
            IJobMaintenanceService jobMaintenance) {
        // HAPI answers an identical kick-off with the files of an earlier job by default;
        // an incremental read (_since) right after a change must see the change.
        settings.setEnableBulkExportJobReuse(false);
        // An export is a Batch2 job whose steps advance on HAPI's maintenance pass (once a
        // minute by default): pass every second, and move on as soon as a step's chunks are
        // done, so an export of a test database takes seconds, not minutes.
        if (jobMaintenance instanceof JobMaintenanceServiceImpl impl) {
            impl.setScheduledJobFrequencyMillis(1000);
        }
        settings.setJobFastTrackingEnabled(true);
        server.registerProvider(bulkExport);
    }
}
