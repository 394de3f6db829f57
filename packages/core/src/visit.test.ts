import { describe, expect, it } from 'vitest';
import { visitOf } from './visit.ts';

describe('visitOf: the attributes of the event that starts a visit', () => {
  it('takes each UTM field from the campaign, and a missing one from the page URL query', () => {
    const v = visitOf('track', {}, { campaign: { source: 'newsletter' }, page: { url: 'https://shop.example/sale?utm_source=ignored&utm_medium=email&utm_term=shoes' } });
    expect(v).toMatchObject({ utm_source: 'newsletter', utm_medium: 'email', utm_term: 'shoes', landingPage: '/sale' });
    expect(v).not.toHaveProperty('utm_campaign');
    expect(v).not.toHaveProperty('utm_content');
  });

  it('reads a page event URL, relative too, and leaves out what an unparsable or missing URL cannot give', () => {
    expect(visitOf('page', { url: '/landing?utm_campaign=spring&utm_content=a%20b' }, {})).toMatchObject({ utm_campaign: 'spring', utm_content: 'a b' });
    const bad = visitOf('page', { url: 'http://[bad' }, { campaign: { medium: 'cpc' } });
    expect(bad).toEqual({ utm_medium: 'cpc' });
    expect(visitOf('track', {}, {})).toEqual({});
  });
});
