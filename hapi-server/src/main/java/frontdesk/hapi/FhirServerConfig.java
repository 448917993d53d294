package frontdesk.hapi;

import ca.uhn.fhir.batch2.jobs.config.Batch2JobsConfig;
import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.context.support.IValidationSupport;
import ca.uhn.fhir.interceptor.api.IInterceptorService;
import ca.uhn.fhir.jpa.api.config.JpaStorageSettings;
import ca.uhn.fhir.jpa.api.config.ThreadPoolFactoryConfig;
import ca.uhn.fhir.jpa.api.dao.IFhirSystemDao;
import ca.uhn.fhir.jpa.batch2.JpaBatch2Config;
import ca.uhn.fhir.jpa.config.HapiJpaConfig;
import ca.uhn.fhir.jpa.config.r4.JpaR4Config;
import ca.uhn.fhir.jpa.config.util.HapiEntityManagerFactoryUtil;
import ca.uhn.fhir.jpa.model.config.PartitionSettings;
import ca.uhn.fhir.jpa.model.config.SubscriptionSettings;
import ca.uhn.fhir.jpa.provider.IJpaSystemProvider;
import ca.uhn.fhir.jpa.provider.JpaCapabilityStatementProvider;
import ca.uhn.fhir.jpa.provider.ValueSetOperationProvider;
import ca.uhn.fhir.jpa.search.DatabaseBackedPagingProvider;
import ca.uhn.fhir.jpa.subscription.channel.config.SubscriptionChannelConfig;
import ca.uhn.fhir.jpa.subscription.match.config.SubscriptionProcessorConfig;
import ca.uhn.fhir.jpa.subscription.match.deliver.email.IEmailSender;
import ca.uhn.fhir.jpa.subscription.submit.config.SubscriptionSubmitterConfig;
import ca.uhn.fhir.jpa.subscription.submit.interceptor.SubscriptionMatcherInterceptor;
import ca.uhn.fhir.jpa.subscription.submit.interceptor.SynchronousSubscriptionMatcherInterceptor;
import ca.uhn.fhir.rest.api.EncodingEnum;
import ca.uhn.fhir.rest.server.IncomingRequestAddressStrategy;
import ca.uhn.fhir.rest.server.RestfulServer;
import ca.uhn.fhir.rest.server.provider.ResourceProviderFactory;
import ca.uhn.fhir.rest.server.util.ISearchParamRegistry;
import ca.uhn.fhir.validation.FhirValidator;
import jakarta.persistence.EntityManagerFactory;
import java.util.Set;
import javax.sql.DataSource;
import org.hl7.fhir.common.hapi.validation.validator.FhirInstanceValidator;
import org.hl7.fhir.dstu2.model.Subscription.SubscriptionChannelType;
import org.hl7.fhir.r5.utils.validation.constants.BestPracticeWarningLevel;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.beans.factory.config.ConfigurableListableBeanFactory;
import org.springframework.boot.autoconfigure.orm.jpa.JpaProperties;
import org.springframework.boot.web.servlet.ServletRegistrationBean;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.context.annotation.Import;
import org.springframework.context.annotation.Primary;
import org.springframework.orm.jpa.JpaTransactionManager;
import org.springframework.orm.jpa.LocalContainerEntityManagerFactoryBean;

/**
 * Wires HAPI's JPA server (R4) into Spring Boot and sets, on purpose, every
 * storage setting our conformance tests rely on. README.md lists them.
 */
@Configuration
@Import({
    // R4 FhirContext, the generated DAOs and resource providers, JpaConfig.
    JpaR4Config.class,
    // Paging provider, resource-count cache, stale-search cleanup and the
    // (unused) full-text services JpaConfig expects as beans.
    HapiJpaConfig.class,
    ThreadPoolFactoryConfig.class,
    // JpaConfig needs a Batch2 job coordinator; Batch2 needs the in-JVM channels.
    JpaBatch2Config.class,
    Batch2JobsConfig.class,
    SubscriptionChannelConfig.class,
    // Subscriptions: the submitter hands every stored change to matching; the
    // processor activates Subscriptions, matches changes against them and delivers.
    SubscriptionSubmitterConfig.class,
    SubscriptionProcessorConfig.class
})
public class FhirServerConfig {

    /** Default and maximum page size of search results (`_count` up to the maximum). */
    static final int DEFAULT_PAGE_SIZE = 20;

    static final int MAX_PAGE_SIZE = 500;

    /**
     * Writes of these types are validated (creates, updates, PATCH results,
     * batch entries); transaction Bundles are validated whatever they hold. The gateway
     * writes Appointment, Slot, Patient and Coverage; the seed data adds the rest.
     */
    static final Set<String> VALIDATED_TYPES = Set.of(
            "Appointment", "Slot", "Patient", "Coverage", "Schedule", "Practitioner", "Location", "Organization");

    private static final Logger log = LoggerFactory.getLogger(FhirServerConfig.class);

    @Bean
    public JpaStorageSettings jpaStorageSettings() {
        JpaStorageSettings settings = new JpaStorageSettings();
        // PUT Patient/p-1001 creates with the client's id; purely numeric ids
        // stay reserved for server-assigned ones (HAPI default, set explicitly).
        settings.setResourceClientIdStrategy(JpaStorageSettings.ClientIdStrategyEnum.ALPHANUMERIC);
        // HAPI reuses the result of an identical search for 60 s by default; tests
        // must see their own writes at once, so never reuse.
        settings.setReuseCachedSearchResultsForMillis(null);
        // `_count` is honoured up to MAX_PAGE_SIZE by the paging provider (below). No cap on
        // the results a search loads in all (setFetchSizeDefaultMaximum): it also caps the
        // resource ids a Bulk Data export reads, so an export would stop at that many.
        // Defaults kept, stated here so nobody has to look them up:
        // references must resolve on write, and referenced resources can't be deleted.
        settings.setEnforceReferentialIntegrityOnWrite(true);
        settings.setEnforceReferentialIntegrityOnDelete(true);
        // A conditional DELETE matching several resources is refused (412).
        settings.setAllowMultipleDelete(false);
        // Absolute references to other servers are refused.
        settings.setAllowExternalReferences(false);
        // Nothing to gain from background jobs on a short-lived test database,
        // except that HAPI's search-expiry job keeps memory bounded: leave on.
        settings.setSchedulingDisabled(false);
        return settings;
    }

    /** Partitioning stays off: each process is one EHR. HAPI looks this bean up by type. */
    @Bean
    public PartitionSettings partitionSettings() {
        return new PartitionSettings();
    }

    /** FHIR R4 rest-hook Subscriptions (README "Subscriptions"); no other channel type. */
    @Bean
    public SubscriptionSettings subscriptionSettings() {
        SubscriptionSettings settings = new SubscriptionSettings();
        settings.addSupportedSubscriptionType(SubscriptionChannelType.RESTHOOK);
        // Criteria are matched against the changed resource in memory; criteria the
        // in-memory matcher can't evaluate fall back to a database query (HAPI default).
        settings.setEnableInMemorySubscriptionMatching(true);
        return settings;
    }

    /**
     * Hands each change to subscription matching as its transaction commits, resource
     * included (HAPI's own SynchronousSubscriptionMatcherInterceptor). HAPI's default
     * stores every change in a table that a scheduled pass (every 5 s) reads back, so
     * that nothing is lost over a restart: worth nothing with an in-memory database, and
     * it delays every notification and every Subscription's activation by up to a pass.
     * Primary, so HAPI's interceptor loader registers this one and leaves its own unused.
     */
    @Bean
    @Primary
    public SubscriptionMatcherInterceptor immediateSubscriptionMatcherInterceptor() {
        return new SynchronousSubscriptionMatcherInterceptor();
    }

    /**
     * HAPI's delivery wiring asks for an email sender even with the email channel
     * off; email Subscriptions are never activated here, so it is never called.
     */
    @Bean
    public IEmailSender emailSender() {
        return details -> {
            throw new UnsupportedOperationException("email subscriptions are not enabled on this server");
        };
    }

    /**
     * HAPI's own entity-manager factory (its entity packages and dialect
     * handling) fed with Boot's DataSource and spring.jpa.properties.*; Boot's
     * JPA auto-configuration backs off because this bean exists.
     */
    @Bean
    @Primary
    public LocalContainerEntityManagerFactoryBean entityManagerFactory(
            ConfigurableListableBeanFactory beanFactory,
            FhirContext fhirContext,
            JpaStorageSettings storageSettings,
            DataSource dataSource,
            JpaProperties jpaProperties) {
        LocalContainerEntityManagerFactoryBean emf =
                HapiEntityManagerFactoryUtil.newEntityManagerFactory(beanFactory, fhirContext, storageSettings);
        emf.setPersistenceUnitName("HAPI_PU");
        emf.setDataSource(dataSource);
        emf.setJpaPropertyMap(jpaProperties.getProperties());
        return emf;
    }

    @Bean
    @Primary
    public JpaTransactionManager transactionManager(EntityManagerFactory entityManagerFactory) {
        return new JpaTransactionManager(entityManagerFactory);
    }

    @Bean
    public RestfulServer restfulServer(
            IFhirSystemDao<?, ?> systemDao,
            ResourceProviderFactory resourceProviders,
            IJpaSystemProvider systemProvider,
            ValueSetOperationProvider valueSetOperations,
            DatabaseBackedPagingProvider pagingProvider,
            JpaStorageSettings storageSettings,
            ISearchParamRegistry searchParamRegistry,
            IValidationSupport validationSupport,
            IInterceptorService storageInterceptors) {
        RestfulServer server = new RestfulServer(systemDao.getContext());
        // Every R4 type: CRUD, conditional create/update/delete, search with
        // _include, history and $validate.
        server.registerProviders(resourceProviders.createProviders());
        // POST of a transaction/batch Bundle to the base, system history.
        server.registerProvider(systemProvider);
        // $expand, $validate-code on ValueSet/CodeSystem.
        server.registerProvider(valueSetOperations);

        // Searches are stored in the database and served page by page through
        // absolute `next` links built from the incoming request's host and port.
        pagingProvider.setDefaultPageSize(DEFAULT_PAGE_SIZE);
        pagingProvider.setMaximumPageSize(MAX_PAGE_SIZE);
        server.setPagingProvider(pagingProvider);
        server.setServerAddressStrategy(new IncomingRequestAddressStrategy());

        // /metadata lists the search parameters the database really indexes.
        JpaCapabilityStatementProvider capabilities = new JpaCapabilityStatementProvider(
                server, systemDao, storageSettings, searchParamRegistry, validationSupport);
        capabilities.setImplementationDescription("frontdesk conformance HAPI FHIR R4 server");
        server.setServerConformanceProvider(capabilities);

        // JSON unless the client asks for XML (HAPI's own default is XML).
        server.setDefaultResponseEncoding(EncodingEnum.JSON);
        // FHIR says a stale If-Match is 412; HAPI answers 409 (see the class).
        server.registerInterceptor(new IfMatchPreconditionInterceptor());

        // A strict server: invalid writes are refused with 422 (see the two classes).
        FhirContext context = systemDao.getContext();
        FhirValidator validator = writeValidator(context, validationSupport);
        server.registerInterceptor(new WriteRequestValidatingInterceptor(context, validator, VALIDATED_TYPES));
        // Storage hooks: registered where the JPA layer broadcasts them.
        storageInterceptors.registerInterceptor(
                new StoredResourceValidatingInterceptor(context, validator, VALIDATED_TYPES));
        return server;
    }

    /**
     * HAPI's instance validator on the server's own validation support (R4 core
     * definitions and terminology), loaded now: the first validation takes
     * seconds, which a client's first write must not wait for.
     */
    private static FhirValidator writeValidator(FhirContext context, IValidationSupport validationSupport) {
        FhirInstanceValidator instanceValidator = new FhirInstanceValidator(validationSupport);
        // Best-practice findings (dom-6 "should have narrative" on every resource)
        // never refuse a write and no answer shows them; skipping them saves a
        // good part of each validation.
        instanceValidator.setBestPracticeWarningLevel(BestPracticeWarningLevel.Ignore);
        FhirValidator validator = context.newValidator();
        validator.registerValidatorModule(instanceValidator);
        long started = System.nanoTime();
        validator.validateWithResult("{\"resourceType\":\"Patient\",\"active\":true}");
        log.info("write validation ready in {} ms", (System.nanoTime() - started) / 1_000_000);
        return validator;
    }

    /** Serves the FHIR API under /fhir/*; being a registration bean, it is registered once. */
    @Bean
    public ServletRegistrationBean<RestfulServer> fhirServlet(RestfulServer server) {
        ServletRegistrationBean<RestfulServer> registration = new ServletRegistrationBean<>(server, "/fhir/*");
        registration.setLoadOnStartup(1);
        return registration;
    }
}
