import { describe, expect, it } from 'vitest';
import { browserOf, deviceTypeOf, osOf, parseCampaign } from './context.ts';

const UA = {
  chromeLinux: 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36',
  chromeWindows: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36',
  edge: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 Edg/126.0.2592.87',
  safariMac: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15',
  iphone: 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1',
  ipad: 'Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.6 Mobile/15E148 Safari/604.1',
  androidPhone: 'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36',
  androidTablet: 'Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36',
  firefox: 'Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0',
};

describe('UTM parameters', () => {
  it('become a Segment campaign, utm_campaign as its name', () => {
    expect(parseCampaign('?utm_source=news&utm_medium=email&utm_campaign=spring%20sale&utm_term=shoes&utm_content=hero&x=1'))
      .toEqual({ source: 'news', medium: 'email', name: 'spring sale', term: 'shoes', content: 'hero' });
    expect(parseCampaign('utm_source=ads')).toEqual({ source: 'ads' });
  });
  it('give null when absent or empty', () => {
    expect(parseCampaign('')).toBeNull();
    expect(parseCampaign('?q=1&utm_source=')).toBeNull();
  });
});

describe('the user agent', () => {
  it('gives the device type', () => {
    expect([UA.chromeLinux, UA.safariMac, UA.iphone, UA.ipad, UA.androidPhone, UA.androidTablet].map(deviceTypeOf))
      .toEqual(['desktop', 'desktop', 'mobile', 'tablet', 'mobile', 'tablet']);
  });
  it('gives the OS and browser, named as the server names them', () => {
    expect(osOf(UA.chromeWindows)).toEqual({ name: 'Windows', version: '10.0' });
    expect(osOf(UA.iphone)).toEqual({ name: 'iOS', version: '17.5' });
    expect(osOf(UA.safariMac)).toEqual({ name: 'macOS', version: '10.15.7' });
    expect(osOf(UA.androidPhone)).toEqual({ name: 'Android', version: '14' });
    expect(osOf(UA.chromeLinux)).toEqual({ name: 'Linux' });
    expect(browserOf(UA.edge)).toEqual({ name: 'Microsoft Edge', version: '126.0.2592.87' });
    expect(browserOf(UA.chromeLinux)).toEqual({ name: 'Chrome', version: '126.0.0.0' });
    expect(browserOf(UA.safariMac)).toEqual({ name: 'Safari', version: '17.5' });
    expect(browserOf(UA.firefox)).toEqual({ name: 'Firefox', version: '127.0' });
    expect(browserOf('curl/8')).toBeNull();
  });
});
