package frontdesk.hapi;

import ca.uhn.fhir.batch2.jobs.config.Batch2JobsConfig;
import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.context.support.IValidationSupport;
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
import ca.uhn.fhir.rest.api.EncodingEnum;
import ca.uhn.fhir.rest.server.IncomingRequestAddressStrategy;
import ca.uhn.fhir.rest.server.RestfulServer;
import ca.uhn.fhir.rest.server.provider.ResourceProviderFactory;
import ca.uhn.fhir.rest.server.util.ISearchParamRegistry;
import jakarta.persistence.EntityManagerFactory;
import javax.sql.DataSource;
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
    SubscriptionChannelConfig.class
})
public class FhirServerConfig {

    /** Default and maximum page size of search results (`_count` up to the maximum). */
    static final int DEFAULT_PAGE_SIZE = 20;

    static final int MAX_PAGE_SIZE = 500;

    @Bean
    public JpaStorageSettings jpaStorageSettings() {
        JpaStorageSettings settings = new JpaStorageSettings();
        // PUT Patient/p-1001 creates with the client's id; purely numeric ids
        // stay reserved for server-assigned ones (HAPI default, set explicitly).
        settings.setResourceClientIdStrategy(JpaStorageSettings.ClientIdStrategyEnum.ALPHANUMERIC);
        // HAPI reuses the result of an identical search for 60 s by default; tests
        // must see their own writes at once, so never reuse.
        settings.setReuseCachedSearchResultsForMillis(null);
        // `_count` is honoured up to this; larger values are capped.
        settings.setFetchSizeDefaultMaximum(MAX_PAGE_SIZE);
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

    /** No subscriptions are used; an empty settings bean satisfies HAPI's wiring. */
    @Bean
    public SubscriptionSettings subscriptionSettings() {
        return new SubscriptionSettings();
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
            IValidationSupport validationSupport) {
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
        return server;
    }

    /** Serves the FHIR API under /fhir/*; being a registration bean, it is registered once. */
    @Bean
    public ServletRegistrationBean<RestfulServer> fhirServlet(RestfulServer server) {
        ServletRegistrationBean<RestfulServer> registration = new ServletRegistrationBean<>(server, "/fhir/*");
        registration.setLoadOnStartup(1);
        return registration;
    }
}
